use super::*;
use rsa::traits::PublicKeyParts;
use rsa::BigUint;

/// A xorshift64 stream from `seed`: test inputs, the same on every run.
fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[test]
fn matches_a_reference_modpow() {
    use rsa::pkcs8::DecodePrivateKey;
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
    for pem in [
        include_str!("../../../../testdata/rsa-a.pem"),
        include_str!("../../../../testdata/rsa-1024.pem"),
        include_str!("../../../../testdata/rsa-2056-e3.pem"),
    ] {
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
        let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
        let mk = MontKey::new(&n, &e).unwrap();
        assert_eq!(mk.len(), n.len());
        let nb = BigUint::from_bytes_be(&n);
        for seed in 1u8..60 {
            let mut x: Vec<u8> = (0..n.len()).map(|_| next() as u8).collect();
            x[0] = seed % n[0].max(1); // keep it below n
            let want = BigUint::from_bytes_be(&x).modpow(&BigUint::from_bytes_be(&e), &nb).to_bytes_be();
            let got = mk.public_op(&x).unwrap();
            let got_trimmed: Vec<u8> = got.iter().copied().skip_while(|b| *b == 0).collect();
            assert_eq!(got_trimmed, want, "seed {seed}");
        }
        // Not exactly k bytes, or not below n: refused.
        assert!(mk.public_op(&n[1..]).is_none());
        assert!(mk.public_op(&n).is_none());
    }
    let mut even = vec![0xc5u8; 256];
    even[255] = 0x10;
    assert!(MontKey::new(&even, &[0x01, 0x00, 0x01]).is_none(), "even modulus");
    let odd = vec![0xc5u8; 256];
    assert!(MontKey::new(&odd, &[0x02]).is_none(), "even exponent");
    assert!(MontKey::new(&odd, &[0x01]).is_none(), "e = 1");
    assert!(MontKey::new(&odd, &[1, 0, 0, 0, 1]).is_none(), "exponent over 32 bits");
    assert!(MontKey::new(&[0x10, 0x01], &[0x03]).is_none(), "tiny modulus");
    assert!(MontKey::new(&vec![0xc5u8; 1025], &[0x03]).is_none(), "over 8192 bits");
}

/// Every shape of exponent (the last step multiplies by s outside Montgomery form), on an
/// odd modulus of 2048 and 2088 bits, with 0, 1 and n - 1 among the bases.
#[test]
fn matches_a_reference_modpow_for_any_odd_exponent() {
    let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
    for k in [256usize, 261] {
        let mut n: Vec<u8> = (0..k).map(|_| next() as u8).collect();
        n[0] |= 0x80;
        n[k - 1] |= 1;
        let nb = BigUint::from_bytes_be(&n);
        for e in [3u32, 5, 7, 17, 0x11, 0x10001, 0x10003, 0x8000_0001, 0xffff_ffff, 0xaaaa_aaab] {
            let mk = MontKey::new(&n, &e.to_be_bytes()).unwrap();
            let mut minus_one = n.clone();
            minus_one[k - 1] -= 1;
            let mut one = vec![0u8; k];
            one[k - 1] = 1;
            let mut bases = vec![vec![0u8; k], one, minus_one];
            for _ in 0..6 {
                let mut x: Vec<u8> = (0..k).map(|_| next() as u8).collect();
                x[0] &= 0x7f;
                bases.push(x);
            }
            for x in bases {
                let want = BigUint::from_bytes_be(&x).modpow(&BigUint::from(e), &nb).to_bytes_be();
                let got: Vec<u8> = mk.public_op(&x).unwrap().into_iter().skip_while(|b| *b == 0).collect();
                let want: Vec<u8> = want.into_iter().skip_while(|b| *b == 0).collect();
                assert_eq!(got, want, "k {k} e {e:#x}");
            }
        }
    }
}

#[test]
fn pkcs1v15_accepts_real_signatures_and_nothing_else() {
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha256, Sha512};
    for pem in [include_str!("../../../../testdata/rsa-a.pem"), include_str!("../../../../testdata/rsa-2056-e3.pem")] {
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
        let mk = MontKey::new(&key.n().to_bytes_be(), &key.e().to_bytes_be()).unwrap();
        let d256 = Sha256::digest(b"msg");
        let sig = key.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &d256).unwrap();
        assert!(verify_pkcs1v15(&mk, &d256, &sig));
        assert!(!verify_pkcs1v15(&mk, &Sha256::digest(b"other"), &sig));
        for i in (0..sig.len()).step_by(17) {
            let mut bad = sig.clone();
            bad[i] ^= 0x40;
            assert!(!verify_pkcs1v15(&mk, &d256, &bad), "bit flip at {i}");
        }
        let mut longer = vec![0u8];
        longer.extend_from_slice(&sig);
        assert!(!verify_pkcs1v15(&mk, &d256, &longer));
        let d512 = Sha512::digest(b"msg");
        let sig512 = key.sign(rsa::Pkcs1v15Sign::new::<Sha512>(), &d512).unwrap();
        assert!(verify_pkcs1v15(&mk, &d512, &sig512));
        assert!(!verify_pkcs1v15(&mk, &d512, &sig), "a SHA-256 signature is not a SHA-512 one");
    }
}

#[test]
fn pss_accepts_real_signatures_with_a_hash_long_salt_and_nothing_else() {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::Pss;
    use sha2::{Digest, Sha256, Sha384, Sha512};
    let mut rng = rsa::rand_core::OsRng;
    // 2048 bits (EM as long as the modulus), 2049 (EM one byte shorter), 2056 with e = 3.
    for pem in [
        include_str!("../../../../testdata/rsa-a.pem"),
        include_str!("../../../../testdata/rsa-2049.pem"),
        include_str!("../../../../testdata/rsa-2056-e3.pem"),
    ] {
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
        let mk = MontKey::new(&key.n().to_bytes_be(), &key.e().to_bytes_be()).unwrap();
        assert_eq!(mk.bits(), key.n().bits());
        let msg = b"header.payload";
        let s256 = key.sign_with_rng(&mut rng, Pss::new::<Sha256>(), &Sha256::digest(msg)).unwrap();
        let s384 = key.sign_with_rng(&mut rng, Pss::new::<Sha384>(), &Sha384::digest(msg)).unwrap();
        let s512 = key.sign_with_rng(&mut rng, Pss::new::<Sha512>(), &Sha512::digest(msg)).unwrap();
        assert!(verify_pss::<Sha256>(&mk, msg, &s256), "{} bits", mk.bits());
        assert!(verify_pss::<Sha384>(&mk, msg, &s384));
        assert!(verify_pss::<Sha512>(&mk, msg, &s512));
        assert!(!verify_pss::<Sha256>(&mk, b"header.payloaD", &s256), "another message");
        assert!(!verify_pss::<Sha384>(&mk, msg, &s256), "another hash");
        for i in (0..s256.len()).step_by(13) {
            let mut bad = s256.clone();
            bad[i] ^= 0x08;
            assert!(!verify_pss::<Sha256>(&mk, msg, &bad), "bit flip at {i}");
        }
        // RFC 7518: the salt is as long as the hash; another length is refused.
        let short = key.sign_with_rng(&mut rng, Pss::new_with_salt::<Sha256>(20), &Sha256::digest(msg)).unwrap();
        assert!(!verify_pss::<Sha256>(&mk, msg, &short));
        // A PKCS#1 v1.5 signature is not a PSS one.
        let v15 = key.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(msg)).unwrap();
        assert!(!verify_pss::<Sha256>(&mk, msg, &v15));
    }
}
