//! Arithmetic in the rings of Streamlined NTRU Prime 761: R/q and R/3 with
//! `R = Z[x]/(x^p - x - 1)`, p = 761, q = 4591. Coefficients are kept
//! centred: in R/q from -(q-1)/2 to (q-1)/2, in R/3 from -1 to 1.
//!
//! Everything that touches secrets runs in time independent of their
//! values: reductions are arithmetic, selections are masks, and the
//! reciprocals use the fixed-iteration "divstep" algorithm (Bernstein and
//! Yang, "Fast constant-time gcd computation and modular inversion").

/// The degree p.
pub const P: usize = 761;
/// The modulus q.
pub const Q: i32 = 4591;
/// (q-1)/2.
pub const Q12: i32 = (Q - 1) / 2;
/// The weight w of short polynomials.
pub const W: usize = 286;

/// A polynomial with centred coefficients, constant term first.
pub type Poly = [i16; P];

/// `x mod q`, centred. `x` is any `i32`.
pub fn fq_freeze(x: i32) -> i16 {
    let r = x.rem_euclid(Q);
    // Subtract q when r > (q-1)/2, without a branch.
    let above = (Q12 - r) >> 31; // -1 when r > Q12
    (r - (Q & above)) as i16
}

/// `x mod 3`, centred in {-1, 0, 1}.
pub fn f3_freeze(x: i32) -> i16 {
    let r = x.rem_euclid(3);
    // r = 2 becomes -1.
    (r - 3 * (r >> 1)) as i16
}

/// `-1` if `x != 0`, else 0.
fn nonzero_mask(x: i32) -> i32 {
    -(((x | x.wrapping_neg()) as u32 >> 31) as i32)
}

/// `-1` if `x < 0`, else 0.
fn negative_mask(x: i32) -> i32 {
    x >> 31
}

/// The product of two polynomials before reduction by x^p - x - 1, then
/// reduced: x^(p+k) = x^(k+1) + x^k.
fn mult_unreduced(a: &Poly, b: &Poly) -> [i32; P] {
    let mut prod = vec![0i32; 2 * P - 1];
    for (i, &ai) in a.iter().enumerate() {
        let ai = i32::from(ai);
        for (j, &bj) in b.iter().enumerate() {
            prod[i + j] += ai * i32::from(bj);
        }
    }
    // Fold the high part down, highest first.
    for k in (P..2 * P - 1).rev() {
        let v = prod[k];
        prod[k - P] += v;
        prod[k - P + 1] += v;
    }
    let mut out = [0i32; P];
    out.copy_from_slice(&prod[..P]);
    out
}

/// `a * b` in R/q, where `b` is small (coefficients in {-1, 0, 1}) or any
/// element of R/q (the sums stay within `i32` either way: 761 * 2295^2
/// would not, but one factor is always small here).
pub fn rq_mult_small(a: &Poly, small: &Poly) -> Poly {
    let wide = mult_unreduced(a, small);
    let mut out = [0i16; P];
    for (o, w) in out.iter_mut().zip(wide.iter()) {
        *o = fq_freeze(*w);
    }
    out
}

/// `a * b` in R/3.
pub fn r3_mult(a: &Poly, b: &Poly) -> Poly {
    let wide = mult_unreduced(a, b);
    let mut out = [0i16; P];
    for (o, w) in out.iter_mut().zip(wide.iter()) {
        *o = f3_freeze(*w);
    }
    out
}

/// `3a` in R/q.
pub fn rq_mult3(a: &Poly) -> Poly {
    let mut out = [0i16; P];
    for (o, &x) in out.iter_mut().zip(a.iter()) {
        *o = fq_freeze(3 * i32::from(x));
    }
    out
}

/// Each coefficient of an R/q element reduced mod 3.
pub fn r3_from_rq(a: &Poly) -> Poly {
    let mut out = [0i16; P];
    for (o, &x) in out.iter_mut().zip(a.iter()) {
        *o = f3_freeze(i32::from(x));
    }
    out
}

/// Rounds each coefficient to the nearest multiple of 3.
pub fn round3(a: &Poly) -> Poly {
    let mut out = [0i16; P];
    for (o, &x) in out.iter_mut().zip(a.iter()) {
        *o = x - f3_freeze(i32::from(x));
    }
    out
}

/// 0 if `r` has exactly w nonzero coefficients, else -1.
pub fn weight_w_mask(r: &Poly) -> i32 {
    let weight: i32 = r.iter().map(|&x| i32::from(x & 1)).sum();
    nonzero_mask(weight - W as i32)
}

/// The multiplicative inverse of `q`'s small residue 3, i.e. 3^(q-2) mod q.
fn fq_recip(a: i32) -> i32 {
    // Fermat: a^(q-2).
    let mut result = 1i32;
    let mut base = a.rem_euclid(Q);
    let mut e = Q - 2;
    while e > 0 {
        if e & 1 == 1 {
            result = (result * base) % Q;
        }
        base = (base * base) % Q;
        e >>= 1;
    }
    result
}

/// Swaps `a` and `b` where `mask` is -1; leaves them where it is 0.
fn cswap(a: &mut [i32], b: &mut [i32], mask: i32) {
    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
        let t = mask & (*x ^ *y);
        *x ^= t;
        *y ^= t;
    }
}

/// The reciprocal in R/3, and 0 if `a` is invertible (-1 if not). The
/// divsteps run on reversed polynomials: f starts as the reversal of
/// x^p - x - 1, g as the reversal of `a`.
pub fn r3_recip(a: &Poly) -> (Poly, i32) {
    let mut f = [0i32; P + 1];
    let mut g = [0i32; P + 1];
    let mut v = [0i32; P + 1];
    let mut r = [0i32; P + 1];
    f[0] = 1;
    f[P - 1] = -1;
    f[P] = -1;
    for i in 0..P {
        g[P - 1 - i] = i32::from(a[i]);
    }
    r[0] = 1;
    let mut delta: i32 = 1;
    for _ in 0..2 * P - 1 {
        v.copy_within(0..P, 1);
        v[0] = 0;
        let swap = negative_mask(-delta) & nonzero_mask(g[0]);
        delta ^= swap & (delta ^ -delta);
        delta += 1;
        cswap(&mut f, &mut g, swap);
        cswap(&mut v, &mut r, swap);
        // In F_3, -g0/f0 = -g0*f0 since f0 is +-1.
        let sign = i32::from(f3_freeze(-g[0] * f[0]));
        for i in 0..=P {
            g[i] = i32::from(f3_freeze(g[i] + sign * f[i]));
            r[i] = i32::from(f3_freeze(r[i] + sign * v[i]));
        }
        g.copy_within(1..=P, 0);
        g[P] = 0;
    }
    let sign = f[0];
    let mut out = [0i16; P];
    for (i, o) in out.iter_mut().enumerate() {
        *o = f3_freeze(sign * v[P - 1 - i]);
    }
    (out, nonzero_mask(delta))
}

/// The reciprocal of `3a` in R/q, and 0 if it exists (-1 if not).
pub fn rq_recip3(a: &Poly) -> (Poly, i32) {
    let mut f = [0i32; P + 1];
    let mut g = [0i32; P + 1];
    let mut v = [0i32; P + 1];
    let mut r = [0i32; P + 1];
    f[0] = 1;
    f[P - 1] = -1;
    f[P] = -1;
    for i in 0..P {
        g[P - 1 - i] = i32::from(a[i]);
    }
    r[0] = fq_recip(3);
    let mut delta: i32 = 1;
    for _ in 0..2 * P - 1 {
        v.copy_within(0..P, 1);
        v[0] = 0;
        let swap = negative_mask(-delta) & nonzero_mask(g[0]);
        delta ^= swap & (delta ^ -delta);
        delta += 1;
        cswap(&mut f, &mut g, swap);
        cswap(&mut v, &mut r, swap);
        let (f0, g0) = (f[0], g[0]);
        for i in 0..=P {
            g[i] = i32::from(fq_freeze(f0 * g[i] - g0 * f[i]));
            r[i] = i32::from(fq_freeze(f0 * r[i] - g0 * v[i]));
        }
        g.copy_within(1..=P, 0);
        g[P] = 0;
    }
    let scale = fq_recip(f[0]);
    let mut out = [0i16; P];
    for (i, o) in out.iter_mut().enumerate() {
        *o = fq_freeze(scale * v[P - 1 - i]);
    }
    (out, nonzero_mask(delta))
}

/// A constant-time sort of `x` (a sorting network: the sequence of
/// compare-and-swap positions depends only on the length).
pub fn sort_u32(x: &mut [u32]) {
    let n = x.len();
    if n < 2 {
        return;
    }
    let mut top = 1;
    while top < n - top {
        top += top;
    }
    let mut p = top;
    while p > 0 {
        for i in 0..n - p {
            if i & p == 0 {
                minmax(x, i, i + p);
            }
        }
        let mut q = top;
        while q > p {
            for i in 0..n - q {
                if i & p == 0 {
                    let mut a = x[i + p];
                    let mut r = q;
                    while r > p {
                        let (lo, hi) = minmax_values(a, x[i + r]);
                        a = lo;
                        x[i + r] = hi;
                        r >>= 1;
                    }
                    x[i + p] = a;
                }
            }
            q >>= 1;
        }
        p >>= 1;
    }
}

fn minmax_values(a: u32, b: u32) -> (u32, u32) {
    // mask = all ones when b < a.
    let mask = 0u32.wrapping_sub(((u64::from(b).wrapping_sub(u64::from(a))) >> 63) as u32);
    let t = mask & (a ^ b);
    (a ^ t, b ^ t)
}

fn minmax(x: &mut [u32], i: usize, j: usize) {
    let (lo, hi) = minmax_values(x[i], x[j]);
    x[i] = lo;
    x[j] = hi;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::{Rng, SeedableRng};

    fn random_small(rng: &mut impl Rng) -> Poly {
        let mut a = [0i16; P];
        for x in a.iter_mut() {
            *x = (rng.next_u32() % 3) as i16 - 1;
        }
        a
    }

    fn one() -> Poly {
        let mut a = [0i16; P];
        a[0] = 1;
        a
    }

    #[test]
    fn freezes_centre_the_residues() {
        assert_eq!(fq_freeze(0), 0);
        assert_eq!(fq_freeze(Q12), Q12 as i16);
        assert_eq!(fq_freeze(Q12 + 1), -(Q12 as i16));
        assert_eq!(fq_freeze(-1), -1);
        assert_eq!(fq_freeze(3 * Q + 5), 5);
        assert_eq!(f3_freeze(2), -1);
        assert_eq!(f3_freeze(-4), -1);
        assert_eq!(f3_freeze(4), 1);
    }

    #[test]
    fn x_to_the_p_reduces_to_x_plus_one() {
        // x^(p-1) * x = x^p = x + 1.
        let mut a = [0i16; P];
        a[P - 1] = 1;
        let mut x = [0i16; P];
        x[1] = 1;
        let prod = rq_mult_small(&a, &x);
        let mut want = [0i16; P];
        want[0] = 1;
        want[1] = 1;
        assert_eq!(prod, want);
    }

    #[test]
    fn reciprocals_multiply_back_to_one() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(761);
        let mut found = 0;
        for _ in 0..4 {
            let g = random_small(&mut rng);
            let (v, mask) = r3_recip(&g);
            if mask == 0 {
                assert_eq!(r3_mult(&g, &v), one());
                found += 1;
            }
            // 1/(3g) * g * 3 = 1 in R/q (R/q is a field).
            let (inv3, mask) = rq_recip3(&g);
            assert_eq!(mask, 0);
            assert_eq!(rq_mult3(&rq_mult_small(&inv3, &g)), one());
        }
        assert!(found > 0);
        // Zero has no inverse.
        assert_eq!(r3_recip(&[0; P]).1, -1);
    }

    #[test]
    fn the_sorting_network_sorts() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        for n in [0usize, 1, 2, 3, 7, 64, 761] {
            let mut v: Vec<u32> = (0..n).map(|_| rng.next_u32()).collect();
            let mut want = v.clone();
            want.sort_unstable();
            sort_u32(&mut v);
            assert_eq!(v, want, "n = {n}");
        }
    }
}
