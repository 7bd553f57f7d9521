use super::jwk::JwksError;
use super::jwt::MAX_TOKEN_BYTES;
use super::*;
use crate::core::testing::keys::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha512};
use std::time::Duration;

const NOW: u64 = 1_800_000_000;
const ISS: &str = "https://idp.example.com";

fn claims() -> Value {
    json!({"iss": ISS, "sub": "user-1", "aud": "api://orders", "exp": NOW + 300, "iat": NOW - 10, "nbf": NOW - 10})
}

fn keyset() -> KeySet {
    let (a, p, q, e) = (rsa_a(), p256_key(), p384_key(), ed_key());
    KeySet::parse(jwks(&[(&a, "rsa-a"), (&p, "ec-256"), (&q, "ec-384"), (&e, "ed")]).as_bytes()).unwrap()
}

/// The whole bearer check, as the filter runs it.
fn check(token: &str, keys: &KeySet) -> Result<u64, JwtError> {
    let t = decode(token, AlgSet::all())?.verify(keys)?;
    let audiences = vec!["api://orders".to_string()];
    t.check(&Expect { issuer: ISS, audiences: &audiences, now_s: NOW, skew: Duration::from_secs(60) })
}

#[test]
fn every_allowed_algorithm_verifies() {
    let keys = keyset();
    let (a, p, q, e) = (rsa_a(), p256_key(), p384_key(), ed_key());
    let cases: [(&TestKey, Alg, &str); 9] = [
        (&a, Alg::RS256, "rsa-a"),
        (&a, Alg::RS384, "rsa-a"),
        (&a, Alg::RS512, "rsa-a"),
        (&a, Alg::PS256, "rsa-a"),
        (&a, Alg::PS384, "rsa-a"),
        (&a, Alg::PS512, "rsa-a"),
        (&p, Alg::ES256, "ec-256"),
        (&q, Alg::ES384, "ec-384"),
        (&e, Alg::EdDSA, "ed"),
    ];
    for (key, alg, kid) in cases {
        assert_eq!(check(&sign(key, alg, kid, &claims()), &keys), Ok(NOW + 300), "{alg:?}");
    }
}

#[test]
fn registered_claims_are_enforced() {
    let keys = keyset();
    let a = rsa_a();
    let with = |patch: Value| {
        let mut c = claims();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        check(&sign(&a, Alg::RS256, "rsa-a", &c), &keys)
    };
    assert_eq!(with(json!({"exp": NOW - 61})), Err(JwtError::Expired));
    assert_eq!(with(json!({"exp": NOW - 59})), Ok(NOW - 59), "within clock skew");
    assert_eq!(with(json!({"nbf": NOW + 61})), Err(JwtError::NotYetValid));
    assert_eq!(with(json!({"iat": NOW + 120})), Err(JwtError::NotYetValid));
    assert_eq!(with(json!({"iss": "https://evil.example.com"})), Err(JwtError::UnknownIssuer));
    assert_eq!(with(json!({"iss": null})), Err(JwtError::UnknownIssuer));
    assert_eq!(with(json!({"aud": "api://other"})), Err(JwtError::WrongAudience));
    assert_eq!(with(json!({"aud": ["x", "api://orders"]})), Ok(NOW + 300));
    assert_eq!(with(json!({"aud": null})), Err(JwtError::WrongAudience));
    assert_eq!(with(json!({"exp": null})), Err(JwtError::MissingExp));
    assert_eq!(with(json!({"exp": "soon"})), Err(JwtError::Malformed));
    assert_eq!(with(json!({"exp": -5})), Err(JwtError::Malformed));
}

#[test]
fn forged_tokens_are_refused() {
    let keys = keyset();
    let (a, b) = (rsa_a(), rsa_b());
    // Signed by a key the issuer does not have, under a kid it does have.
    assert_eq!(check(&sign(&b, Alg::RS256, "rsa-a", &claims()), &keys), Err(JwtError::BadSignature));
    // Unknown kid.
    assert_eq!(check(&sign(&a, Alg::RS256, "rotated", &claims()), &keys), Err(JwtError::UnknownKey));
    // alg none, with and without a signature part.
    let none = unsigned(json!({"alg": "none"}), &claims(), b"");
    assert_eq!(check(&none, &keys), Err(JwtError::DisallowedAlg));
    assert_eq!(check(none.trim_end_matches('.'), &keys), Err(JwtError::Malformed));
    // HS256 keyed with the RSA public key's JWK text (the classic key-confusion attack).
    let public = a.jwk("rsa-a").to_string();
    let hs = hs256(public.as_bytes(), json!({"alg": "HS256", "kid": "rsa-a"}), &claims());
    assert_eq!(check(&hs, &keys), Err(JwtError::DisallowedAlg));
    // RS256 header but an ES256 key's kid: the key does not fit the algorithm.
    assert_eq!(check(&sign(&a, Alg::RS256, "ec-256", &claims()), &keys), Err(JwtError::UnknownKey));
    // Payload swapped after signing.
    let good = sign(&a, Alg::RS256, "rsa-a", &claims());
    let parts: Vec<&str> = good.split('.').collect();
    let mut evil = claims();
    evil["sub"] = json!("admin");
    let swapped = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(evil.to_string()), parts[2]);
    assert_eq!(check(&swapped, &keys), Err(JwtError::BadSignature));
    // crit extensions are not understood.
    let crit = sign_with_header(&a, json!({"alg": "RS256", "kid": "rsa-a", "crit": ["exp"]}), &claims());
    assert_eq!(check(&crit, &keys), Err(JwtError::UnsupportedCrit));
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let keys = keyset();
    for t in ["", ".", "..", "a.b.c", "a.b.c.d", "eyJhbGciOiJSUzI1NiJ9.e30", "%%%.%%%.%%%", "eyJ9.eyJ9.eyJ9"] {
        assert_eq!(check(t, &keys), Err(JwtError::Malformed), "{t:?}");
    }
    let big = format!("{}.{}.{}", "a".repeat(MAX_TOKEN_BYTES), "b", "c");
    assert_eq!(check(&big, &keys), Err(JwtError::Malformed));
    // Valid header JSON but a claims set that is not an object.
    let arr = sign_with_header(&rsa_a(), json!({"alg": "RS256", "kid": "rsa-a"}), &json!([1, 2]));
    assert_eq!(check(&arr, &keys), Err(JwtError::Malformed));
}

#[test]
fn missing_kid_falls_back_to_the_single_fitting_key() {
    let a = rsa_a();
    let one = KeySet::parse(jwks(&[(&a, "only")]).as_bytes()).unwrap();
    let no_kid = sign_with_header(&a, json!({"alg": "RS256"}), &claims());
    assert_eq!(check(&no_kid, &one), Ok(NOW + 300));
    // Two RSA keys and no kid: ambiguous, refused.
    let b = rsa_b();
    let two = KeySet::parse(jwks(&[(&a, "a"), (&b, "b")]).as_bytes()).unwrap();
    assert_eq!(check(&no_kid, &two), Err(JwtError::UnknownKey));
}

#[test]
fn allow_list_limits_algorithms() {
    let keys = keyset();
    let mut only_es = AlgSet::empty();
    only_es.insert(Alg::ES256);
    let rs = sign(&rsa_a(), Alg::RS256, "rsa-a", &claims());
    assert!(matches!(decode(&rs, only_es), Err(JwtError::DisallowedAlg)));
    let es = sign(&p256_key(), Alg::ES256, "ec-256", &claims());
    assert!(decode(&es, only_es).unwrap().verify(&keys).is_ok());
}

#[test]
fn jwks_skips_what_it_cannot_use() {
    let (a, small) = (rsa_a(), rsa_1024());
    let mut private = a.jwk("priv");
    private["d"] = json!("AAAA");
    let mut enc = a.jwk("enc");
    enc["use"] = json!("enc");
    let mut wrong_alg = a.jwk("wrongalg");
    wrong_alg["alg"] = json!("ES256");
    let doc = json!({"keys": [small.jwk("small"), private, enc, wrong_alg, {"kty": "oct", "k": "c2VjcmV0"}, a.jwk("good"), "junk"]});
    let set = KeySet::parse(doc.to_string().as_bytes()).unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.skipped, 6);
    assert_eq!(set.keys[0].kid.as_deref(), Some("good"));
    assert!(matches!(KeySet::parse(b"{\"keys\":[]}"), Err(JwksError::NoUsableKeys)));
    assert!(matches!(KeySet::parse(b"<html>"), Err(JwksError::NotJson)));
}

/// An Ed25519 JWK with these 32 bytes as `x`.
fn ed_jwk(kid: &str, x: &[u8]) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": URL_SAFE_NO_PAD.encode(x)})
}

#[test]
fn ed25519_keys_of_small_order_off_the_curve_or_not_canonical_are_skipped() {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::traits::Identity;
    // The identity (y = 1) and the point of order 2 (y = -1): anyone could sign for them.
    let identity = CompressedEdwardsY::identity().to_bytes();
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    // The smallest y with no x on the curve.
    let off = (2u8..)
        .map(|y| {
            let mut b = [0u8; 32];
            b[0] = y;
            b
        })
        .find(|b| CompressedEdwardsY(*b).decompress().is_none())
        .unwrap();
    // y = p + 3, written non-canonically: a point of large order (y = 3 is on the curve),
    // which RFC 8032 says to refuse.
    let mut y_plus_p = [0xffu8; 32];
    y_plus_p[0] = 0xf0;
    y_plus_p[31] = 0x7f;
    let mut y3 = [0u8; 32];
    y3[0] = 3;
    assert!(CompressedEdwardsY(y3).decompress().is_some_and(|p| !p.is_small_order()));
    let good = ed_key().jwk("good");
    let doc = json!({"keys": [ed_jwk("id", &identity), ed_jwk("order2", &minus_one), ed_jwk("off", &off),
        ed_jwk("short", &[9u8; 31]), ed_jwk("y+p", &y_plus_p), ed_jwk("y=3", &y3), good]});
    let set = KeySet::parse(doc.to_string().as_bytes()).unwrap();
    assert_eq!(set.keys.iter().map(|k| k.kid.as_deref()).collect::<Vec<_>>(), [Some("y=3"), Some("good")]);
    assert_eq!(set.skipped, 5);
    let only_weak = json!({"keys": [ed_jwk("id", &identity)]});
    assert!(matches!(KeySet::parse(only_weak.to_string().as_bytes()), Err(JwksError::NoUsableKeys)));
}

/// Signs `input` as a key holder who chooses R = the identity, a point of order 1:
/// S = k a, so that [S]B = R + [k]A holds. The cofactorless check of RFC 8032 alone
/// accepts this; no honest signer makes it.
fn ed25519_with_small_order_r(secret: [u8; 32], input: &[u8]) -> ([u8; 32], [u8; 64]) {
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::Identity;
    let a = Scalar::from_bytes_mod_order(secret);
    let public = EdwardsPoint::mul_base(&a).compress().to_bytes();
    let r = CompressedEdwardsY::identity().to_bytes();
    let k = Scalar::from_bytes_mod_order_wide(
        &Sha512::new().chain_update(r).chain_update(public).chain_update(input).finalize().into(),
    );
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r);
    sig[32..].copy_from_slice((k * a).as_bytes());
    (public, sig)
}

#[test]
fn ed25519_signatures_no_honest_signer_makes_are_refused() {
    let header = json!({"alg": "EdDSA", "kid": "ed"});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims().to_string()));
    // R of small order: the equation holds (ed25519-dalek's non-strict `verify` accepts it),
    // the strict check refuses it.
    let (public, sig) = ed25519_with_small_order_r([5u8; 32], input.as_bytes());
    let key = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
    let parsed = ed25519_dalek::Signature::from_bytes(&sig);
    assert!(ed25519_dalek::Verifier::verify(&key, input.as_bytes(), &parsed).is_ok(), "the equation holds");
    let keys = KeySet::parse(json!({"keys": [ed_jwk("ed", &public)]}).to_string().as_bytes()).unwrap();
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(check(&token, &keys), Err(JwtError::BadSignature));

    // S + L in place of S (the same signature, written non-canonically): refused, while the
    // honest signature verifies.
    let keys = keyset();
    let good = sign(&ed_key(), Alg::EdDSA, "ed", &claims());
    assert_eq!(check(&good, &keys), Ok(NOW + 300));
    let (input, sig) = good.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (s, l) in sig[32..].iter_mut().zip(L) {
        let v = u16::from(*s) + u16::from(l) + carry;
        *s = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    let malleated = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig));
    assert_eq!(check(&malleated, &keys), Err(JwtError::BadSignature));
}
