use super::*;
use crate::keys::PrivateKey;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn key(seed: u64) -> PrivateKey {
    PrivateKey::generate_ed25519(&mut ChaCha20Rng::seed_from_u64(seed))
}

/// Feeds `bytes` to a fresh decoder in pieces of `step` bytes and collects
/// every message it yields.
fn messages_in_steps(bytes: &[u8], step: usize) -> Vec<Vec<u8>> {
    let mut decoder = FrameDecoder::new();
    let mut out = Vec::new();
    for chunk in bytes.chunks(step) {
        let mut input = chunk;
        while let Some(m) = decoder.decode(&mut input).unwrap() {
            out.push(m);
        }
        assert!(input.is_empty());
    }
    assert!(!decoder.is_mid_message());
    out
}

fn samples() -> (Vec<Request>, Vec<Response>) {
    let k = key(1);
    let requests = vec![
        Request::RequestIdentities,
        Request::Sign {
            key_blob: k.public_key().blob().to_vec(),
            data: b"session id and userauth request".to_vec(),
            flags: flags::RSA_SHA2_512,
        },
        Request::Other {
            kind: 17,
            body: vec![1, 2, 3],
        },
    ];
    let responses = vec![
        Response::Failure,
        Response::Success,
        Response::Identities(vec![]),
        Response::Identities(vec![
            Identity {
                key_blob: k.public_key().blob().to_vec(),
                comment: "me@host".into(),
            },
            Identity {
                key_blob: key(2).public_key().blob().to_vec(),
                comment: String::new(),
            },
        ]),
        Response::Signature(k.sign("ssh-ed25519", b"x").unwrap()),
    ];
    (requests, responses)
}

#[test]
fn wire_bytes_of_the_simple_messages() {
    assert_eq!(
        Request::RequestIdentities.encode().unwrap(),
        [0, 0, 0, 1, 11]
    );
    assert_eq!(Response::Failure.encode().unwrap(), [0, 0, 0, 1, 5]);
    assert_eq!(Response::Success.encode().unwrap(), [0, 0, 0, 1, 6]);
    let sign = Request::Sign {
        key_blob: vec![0xaa],
        data: vec![0xbb, 0xcc],
        flags: 6,
    };
    assert_eq!(
        sign.encode().unwrap(),
        [0, 0, 0, 16, 13, 0, 0, 0, 1, 0xaa, 0, 0, 0, 2, 0xbb, 0xcc, 0, 0, 0, 6]
    );
}

#[test]
fn round_trips_in_any_split() {
    let (requests, responses) = samples();
    let mut stream = Vec::new();
    for r in &requests {
        stream.extend(r.encode().unwrap());
    }
    for step in [1, 2, 3, 5, 7, 64, stream.len()] {
        let decoded: Vec<Request> = messages_in_steps(&stream, step)
            .iter()
            .map(|m| Request::decode(m).unwrap())
            .collect();
        assert_eq!(decoded, requests, "step {step}");
    }
    let mut stream = Vec::new();
    for r in &responses {
        stream.extend(r.encode().unwrap());
    }
    for step in [1, 4, 9, stream.len()] {
        let decoded: Vec<Response> = messages_in_steps(&stream, step)
            .iter()
            .map(|m| Response::decode(m).unwrap())
            .collect();
        assert_eq!(decoded, responses, "step {step}");
    }
}

#[test]
fn a_decoder_leaves_the_next_message_in_the_input() {
    let mut stream = Response::Success.encode().unwrap();
    stream.extend(Response::Failure.encode().unwrap());
    let mut input = stream.as_slice();
    let mut decoder = FrameDecoder::new();
    assert_eq!(
        decoder.decode_response(&mut input).unwrap(),
        Some(Response::Success)
    );
    assert_eq!(input.len(), 5);
    assert_eq!(
        decoder.decode_response(&mut input).unwrap(),
        Some(Response::Failure)
    );
    assert_eq!(decoder.decode_response(&mut input).unwrap(), None);
}

#[test]
fn oversize_and_empty_lengths_are_refused_before_buffering() {
    let mut decoder = FrameDecoder::new();
    let too_long = (MAX_MESSAGE_LEN as u32 + 1).to_be_bytes();
    let mut input = &too_long[..];
    assert_eq!(
        decoder.decode(&mut input),
        Err(AgentError::TooLong(MAX_MESSAGE_LEN + 1))
    );
    // Sticky: the stream is no longer framed.
    let mut more: &[u8] = &[0, 0, 0, 1, 6];
    assert!(decoder.decode(&mut more).is_err());

    let mut input: &[u8] = &[0xff, 0xff, 0xff, 0xff];
    assert!(matches!(
        FrameDecoder::new().decode(&mut input),
        Err(AgentError::TooLong(_))
    ));
    let mut input: &[u8] = &[0, 0, 0, 0];
    assert_eq!(
        FrameDecoder::new().decode(&mut input),
        Err(AgentError::Empty)
    );

    // Exactly the limit is fine.
    let mut msg = vec![0u8; 4 + MAX_MESSAGE_LEN];
    msg[..4].copy_from_slice(&(MAX_MESSAGE_LEN as u32).to_be_bytes());
    msg[4] = 6;
    let mut input = msg.as_slice();
    assert_eq!(
        FrameDecoder::new()
            .decode(&mut input)
            .unwrap()
            .map(|m| m.len()),
        Some(MAX_MESSAGE_LEN)
    );
}

#[test]
fn messages_over_the_limit_are_not_encoded() {
    let big = Request::Sign {
        key_blob: vec![],
        data: vec![0; MAX_MESSAGE_LEN],
        flags: 0,
    };
    assert!(matches!(big.encode(), Err(AgentError::TooLong(_))));
}

#[test]
fn truncated_and_garbage_messages_are_errors() {
    let (requests, responses) = samples();
    // Every strict prefix of every message body fails to decode (or, for
    // the bodies whose type byte alone is complete, decodes as that type).
    for r in &responses {
        let framed = r.encode().unwrap();
        let body = &framed[4..];
        for cut in 0..body.len() {
            let short = Response::decode(&body[..cut]);
            assert!(short.is_err(), "{r:?} cut at {cut}: {short:?}");
        }
        let mut long = body.to_vec();
        long.push(0);
        if !matches!(r, Response::Failure) {
            assert!(
                Response::decode(&long).is_err(),
                "{r:?} with a trailing byte"
            );
        }
    }
    for r in &requests[..2] {
        let framed = r.encode().unwrap();
        let body = &framed[4..];
        for cut in 0..body.len() {
            assert!(Request::decode(&body[..cut]).is_err(), "{r:?} cut at {cut}");
        }
    }
    // A string length running past the end, and a request type as a reply.
    assert!(Response::decode(&[14, 0xff, 0xff, 0xff, 0xff, 1]).is_err());
    assert_eq!(
        Response::decode(&[11]),
        Err(AgentError::UnexpectedMessage(11))
    );
    // Legacy and extension failure codes read as failure.
    for code in [5, 28, 30, 102] {
        assert_eq!(Response::decode(&[code]), Ok(Response::Failure));
    }
}

#[test]
fn a_hostile_identity_count_is_refused_or_bounded() {
    let mut body = vec![12];
    body.extend_from_slice(&(MAX_IDENTITIES as u32 + 1).to_be_bytes());
    assert_eq!(
        Response::decode(&body),
        Err(AgentError::TooManyIdentities(MAX_IDENTITIES as u32 + 1))
    );
    // A count within the limit but with no identities behind it.
    let mut body = vec![12];
    body.extend_from_slice(&(MAX_IDENTITIES as u32).to_be_bytes());
    assert!(Response::decode(&body).is_err());
}

#[test]
fn fuzzish_inputs_never_panic() {
    // Deterministic pseudo-random bytes, fed to every decoder.
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    for len in 0..300 {
        let mut bytes = vec![0u8; len % 40];
        rand_core::Rng::fill_bytes(&mut rng, &mut bytes);
        if let Some(first) = bytes.first_mut() {
            *first = [5, 6, 11, 12, 13, 14][len % 6];
        }
        let _ = Request::decode(&bytes);
        let _ = Response::decode(&bytes);
        let mut input = bytes.as_slice();
        let _ = FrameDecoder::new().decode_response(&mut input);
    }
}

#[test]
fn signing_through_the_codec_with_the_memory_agent() {
    let k1 = key(1);
    let k2 = key(2);
    let mut agent = MemoryAgent::new();
    agent.add(k1.clone(), "first");
    agent.add(k2.clone(), "second");

    // Client asks for identities; the agent reads the bytes and answers.
    let wire = Request::RequestIdentities.encode().unwrap();
    let mut input = wire.as_slice();
    let request = FrameDecoder::new()
        .decode_request(&mut input)
        .unwrap()
        .unwrap();
    let answer = agent.answer(&request).encode().unwrap();
    let mut input = answer.as_slice();
    let Some(Response::Identities(ids)) = FrameDecoder::new().decode_response(&mut input).unwrap()
    else {
        panic!("no identities")
    };
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1].comment, "second");
    let public = ids[1].public_key().unwrap();
    assert_eq!(public.blob(), k2.public_key().blob());

    // Client asks the second key to sign.
    let data = b"what userauth signs".to_vec();
    let wire = Request::Sign {
        key_blob: public.blob().to_vec(),
        data: data.clone(),
        flags: sign_flags("ssh-ed25519"),
    }
    .encode()
    .unwrap();
    let reply = agent.answer_message(&wire[4..]).encode().unwrap();
    let Ok(Response::Signature(sig)) = Response::decode(&reply[4..]) else {
        panic!("no signature")
    };
    assert!(public.verify("ssh-ed25519", &data, &sig));
    assert!(!k1.public_key().verify("ssh-ed25519", &data, &sig));

    // Unknown key, unimplemented request, garbage: failure.
    let unknown = Request::Sign {
        key_blob: key(3).public_key().blob().to_vec(),
        data,
        flags: 0,
    };
    assert_eq!(agent.answer(&unknown), Response::Failure);
    assert_eq!(agent.answer_message(&[19]), Response::Failure);
    assert_eq!(agent.answer_message(&[13, 0, 0]), Response::Failure);
}

#[test]
fn rsa_flags() {
    assert_eq!(sign_flags("rsa-sha2-256"), flags::RSA_SHA2_256);
    assert_eq!(sign_flags("rsa-sha2-512"), flags::RSA_SHA2_512);
    assert_eq!(sign_flags("ssh-ed25519"), 0);
    assert_eq!(signature_algorithm("ssh-rsa", 0), "ssh-rsa");
    assert_eq!(signature_algorithm("ssh-rsa", 4), "rsa-sha2-512");
    assert_eq!(signature_algorithm("ssh-rsa", 2), "rsa-sha2-256");
    assert_eq!(signature_algorithm("ssh-rsa", 6), "rsa-sha2-256");
    assert_eq!(signature_algorithm("ssh-ed25519", 4), "ssh-ed25519");
}
