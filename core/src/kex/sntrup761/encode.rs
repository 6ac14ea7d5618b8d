//! The byte encodings of Streamlined NTRU Prime (the NTRU Prime NIST
//! round 3 specification, "Encoding"): the general variable-radix
//! `Encode`/`Decode` of a list of integers `R[i] < M[i]`, used for public
//! keys (every `M[i] = q`) and ciphertexts (rounded values, `M[i] = (q+2)/3`),
//! and the 2-bit packing of small polynomials.

use super::poly::{Poly, P, Q, Q12};

/// Public key bytes (Rq_encode of h).
pub const RQ_BYTES: usize = 1158;
/// Rounded polynomial bytes (the ciphertext body).
pub const ROUNDED_BYTES: usize = 1007;
/// Small polynomial bytes: four coefficients per byte, 761 = 4 * 190 + 1.
pub const SMALL_BYTES: usize = P.div_ceil(4);

/// The radix of rounded coefficients: (q+2)/3 = 1531 values.
const ROUNDED_RADIX: u32 = (Q as u32).div_ceil(3);

/// Radix at which pairs stop being merged: values stay below 2^14 * 2^14.
const LIMIT: u32 = 16384;

/// Encodes `r` (with `r[i] < m[i]`, every `m[i]` at most 2^14) into `out`.
fn encode(out: &mut Vec<u8>, r: &[u32], m: &[u32]) {
    match m.len() {
        0 => {}
        1 => {
            let (mut r, mut m) = (r[0], m[0]);
            while m > 1 {
                out.push(r as u8);
                r >>= 8;
                m = (m + 255) >> 8;
            }
        }
        len => {
            let mut r2 = Vec::with_capacity(len.div_ceil(2));
            let mut m2 = Vec::with_capacity(len.div_ceil(2));
            for i in (0..len - 1).step_by(2) {
                let mut mm = m[i] * m[i + 1];
                let mut rr = r[i] + m[i] * r[i + 1];
                while mm >= LIMIT {
                    out.push(rr as u8);
                    rr >>= 8;
                    mm = (mm + 255) >> 8;
                }
                r2.push(rr);
                m2.push(mm);
            }
            if len % 2 == 1 {
                r2.push(r[len - 1]);
                m2.push(m[len - 1]);
            }
            encode(out, &r2, &m2);
        }
    }
}

/// Decodes what [`encode`] made for the radices `m`, reading from `s`.
/// Every output is reduced below its `m[i]`, so any bytes decode.
fn decode(s: &[u8], m: &[u32]) -> Vec<u32> {
    let byte = |k: usize| u32::from(s.get(k).copied().unwrap_or(0));
    match m.len() {
        0 => Vec::new(),
        1 => {
            let mut acc: u64 = 0;
            for (i, &b) in s.iter().enumerate().take(4) {
                acc |= u64::from(b) << (8 * i);
            }
            vec![(acc % u64::from(m[0])) as u32]
        }
        len => {
            let mut k = 0;
            let mut bottom = Vec::with_capacity(len / 2);
            let mut m2 = Vec::with_capacity(len.div_ceil(2));
            for i in (0..len - 1).step_by(2) {
                let mut mm = m[i] * m[i + 1];
                let (mut r, mut t) = (0u32, 1u32);
                while mm >= LIMIT {
                    r += byte(k) * t;
                    t <<= 8;
                    k += 1;
                    mm = (mm + 255) >> 8;
                }
                bottom.push((r, t));
                m2.push(mm);
            }
            if len % 2 == 1 {
                m2.push(m[len - 1]);
            }
            let r2 = decode(s.get(k..).unwrap_or_default(), &m2);
            let mut out = Vec::with_capacity(len);
            for i in (0..len - 1).step_by(2) {
                let (r, t) = bottom[i / 2];
                // r + t * r2 < 2^32: t < 2^16 after the loop and r2 < 2^14 * ...
                let v = u64::from(r) + u64::from(t) * u64::from(r2[i / 2]);
                out.push((v % u64::from(m[i])) as u32);
                out.push(((v / u64::from(m[i])) % u64::from(m[i + 1])) as u32);
            }
            if len % 2 == 1 {
                out.push(r2[len / 2]);
            }
            out
        }
    }
}

/// A public key h in R/q (coefficients shifted to 0..q).
pub fn rq_encode(h: &Poly) -> Vec<u8> {
    let r: Vec<u32> = h.iter().map(|&x| (i32::from(x) + Q12) as u32).collect();
    let m = vec![Q as u32; P];
    let mut out = Vec::with_capacity(RQ_BYTES);
    encode(&mut out, &r, &m);
    out
}

/// Inverse of [`rq_encode`]; `s` is [`RQ_BYTES`] long.
pub fn rq_decode(s: &[u8]) -> Poly {
    let m = vec![Q as u32; P];
    let r = decode(s, &m);
    let mut h = [0i16; P];
    for (o, v) in h.iter_mut().zip(r) {
        *o = (v as i32 - Q12) as i16;
    }
    h
}

/// A rounded polynomial (every coefficient a multiple of 3): each is
/// stored as (c + (q-1)/2) / 3, below (q+2)/3.
pub fn rounded_encode(c: &Poly) -> Vec<u8> {
    let r: Vec<u32> = c
        .iter()
        .map(|&x| ((i32::from(x) + Q12) as u32 * 10923) >> 15)
        .collect();
    let m = vec![ROUNDED_RADIX; P];
    let mut out = Vec::with_capacity(ROUNDED_BYTES);
    encode(&mut out, &r, &m);
    out
}

/// Inverse of [`rounded_encode`]; `s` is [`ROUNDED_BYTES`] long.
pub fn rounded_decode(s: &[u8]) -> Poly {
    let m = vec![ROUNDED_RADIX; P];
    let r = decode(s, &m);
    let mut c = [0i16; P];
    for (o, v) in c.iter_mut().zip(r) {
        *o = (v as i32 * 3 - Q12) as i16;
    }
    c
}

/// A small polynomial, 2 bits per coefficient (value + 1).
pub fn small_encode(f: &Poly) -> Vec<u8> {
    f.chunks(4)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u8, |acc, (i, &x)| acc | (((x + 1) as u8) << (2 * i)))
        })
        .collect()
}

/// Inverse of [`small_encode`] (the secret key is kept decoded, so only
/// the tests need it).
#[cfg(test)]
pub fn small_decode(s: &[u8]) -> Poly {
    let mut f = [0i16; P];
    for (i, o) in f.iter_mut().enumerate() {
        let b = s.get(i / 4).copied().unwrap_or(0);
        *o = i16::from((b >> (2 * (i % 4))) & 3) - 1;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::{Rng, SeedableRng};

    #[test]
    fn encodings_have_the_specified_lengths_and_round_trip() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let mut h = [0i16; P];
        let mut c = [0i16; P];
        let mut f = [0i16; P];
        for i in 0..P {
            h[i] = (rng.next_u32() % Q as u32) as i16 - Q12 as i16;
            c[i] = 3 * ((rng.next_u32() % 1531) as i16) - Q12 as i16;
            f[i] = (rng.next_u32() % 3) as i16 - 1;
        }
        // The extremes too.
        h[0] = -(Q12 as i16);
        h[1] = Q12 as i16;
        c[0] = Q12 as i16;
        let e = rq_encode(&h);
        assert_eq!(e.len(), RQ_BYTES);
        assert_eq!(rq_decode(&e), h);
        let e = rounded_encode(&c);
        assert_eq!(e.len(), ROUNDED_BYTES);
        assert_eq!(rounded_decode(&e), c);
        let e = small_encode(&f);
        assert_eq!(e.len(), SMALL_BYTES);
        assert_eq!(small_decode(&e), f);
    }

    #[test]
    fn small_radix_examples() {
        // Two values below 3 and 5: 2 + 3*4 = 14 < 15 fits one merged
        // value, written by the last level as one byte.
        let mut out = Vec::new();
        encode(&mut out, &[2, 4], &[3, 5]);
        assert_eq!(out, [14]);
        assert_eq!(decode(&out, &[3, 5]), [2, 4]);
        // One value below 65536 takes two little-endian bytes.
        let mut out = Vec::new();
        encode(&mut out, &[0x1234], &[65536]);
        assert_eq!(out, [0x34, 0x12]);
    }
}
