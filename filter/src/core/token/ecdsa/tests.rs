use super::*;
use p256::ecdsa::signature::Signer;

fn be<const L: usize>(limbs: &Limbs<L>) -> Vec<u8> {
    limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect()
}

fn p384_key(seed: u8) -> (p384::ecdsa::SigningKey, P384Key) {
    let sk = p384::ecdsa::SigningKey::from_slice(&[seed; 48]).unwrap();
    let pt = sk.verifying_key().to_encoded_point(false);
    (sk, PublicKey::from_xy(&P384, pt.x().unwrap(), pt.y().unwrap()).unwrap())
}

fn p256_key(seed: u8) -> (p256::ecdsa::SigningKey, P256Key) {
    let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    let pt = sk.verifying_key().to_encoded_point(false);
    (sk, PublicKey::from_xy(&P256, pt.x().unwrap(), pt.y().unwrap()).unwrap())
}

#[test]
fn verifies_the_p256_and_p384_crates_signatures_and_nothing_else() {
    for seed in [1u8, 9, 77, 200] {
        let ((s3, k3), (s2, k2)) = (p384_key(seed), p256_key(seed));
        for msg in [&b"header.payload"[..], b"", &[0xffu8; 300]] {
            let sig3: p384::ecdsa::Signature = s3.sign(msg);
            let sig2: p256::ecdsa::Signature = s2.sign(msg);
            for (key_ok, bytes) in [
                (k3.verify(msg, &sig3.to_bytes()), sig3.to_bytes().to_vec()),
                (k2.verify(msg, &sig2.to_bytes()), sig2.to_bytes().to_vec()),
            ] {
                assert!(key_ok, "seed {seed}");
                let verify = |m: &[u8], s: &[u8]| if s.len() == 96 { k3.verify(m, s) } else { k2.verify(m, s) };
                assert!(!verify(b"another message", &bytes));
                for i in (0..bytes.len()).step_by(7) {
                    let mut bad = bytes.clone();
                    bad[i] ^= 0x10;
                    assert!(!verify(msg, &bad), "bit flip at {i}");
                }
            }
        }
        let (_, other) = p384_key(seed.wrapping_add(1));
        let sig: p384::ecdsa::Signature = s3.sign(b"m");
        assert!(!other.verify(b"m", &sig.to_bytes()), "another key");
        let (_, other) = p256_key(seed.wrapping_add(1));
        let sig: p256::ecdsa::Signature = s2.sign(b"m");
        assert!(!other.verify(b"m", &sig.to_bytes()), "another key");
    }
}

#[test]
fn refuses_bad_signatures_and_points() {
    let (sk, pk) = p384_key(5);
    let sig: p384::ecdsa::Signature = sk.sign(b"m");
    let bytes = sig.to_bytes();
    assert!(!pk.verify(b"m", &bytes[..95]), "short");
    assert!(!pk.verify(b"m", &[0u8; 96]), "r = s = 0");
    let mut n_as_r = bytes.to_vec();
    n_as_r[..48].copy_from_slice(&be(&P384.n.m));
    assert!(!pk.verify(b"m", &n_as_r), "r = n");
    let (gx, gy) = (be(&P384.gx), be(&P384.gy));
    assert!(PublicKey::from_xy(&P384, &gx, &gy).is_some(), "the generator is on the curve");
    let mut off = gy.clone();
    off[47] ^= 1;
    assert!(PublicKey::from_xy(&P384, &gx, &off).is_none(), "a point off the curve");
    assert!(PublicKey::from_xy(&P384, &gx[1..], &gy).is_none(), "short coordinate");
    assert!(PublicKey::from_xy(&P384, &be(&P384.p.m), &gy).is_none(), "x = p");
    let (gx, gy) = (be(&P256.gx), be(&P256.gy));
    assert!(PublicKey::from_xy(&P256, &gx, &gy).is_some());
    assert!(PublicKey::from_xy(&P256, &gy, &gx).is_none(), "x and y swapped: off the curve");
    let (sk, pk) = p256_key(5);
    let sig: p256::ecdsa::Signature = sk.sign(b"m");
    assert!(!pk.verify(b"m", &sig.to_bytes()[..63]), "short");
    let mut high_s = sig.to_bytes().to_vec();
    high_s[32..].copy_from_slice(&be(&P256.n.m));
    assert!(!pk.verify(b"m", &high_s), "s = n");
}
