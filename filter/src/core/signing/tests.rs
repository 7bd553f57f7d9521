use p256::pkcs8::DecodePrivateKey;
use serde_json::{json, Value};

use super::*;
use crate::core::testing::FixedRng;
use crate::core::token::{decode, AlgSet, KeySet};

const EC_PKCS8: &str = include_str!("../../../testdata/ec-p256.pem");
const EC_SEC1: &str = include_str!("../../../testdata/ec-p256-sec1.pem");
const EC_P384: &str = include_str!("../../../testdata/ec-p384.pem");
const RSA_PKCS8: &str = include_str!("../../../testdata/rsa-a.pem");
const RSA_PKCS1: &str = include_str!("../../../testdata/rsa-a-pkcs1.pem");
const RSA_1024: &str = include_str!("../../../testdata/rsa-1024.pem");

/// Verifies `jwt` with the core's own JWT verifier against `key`'s published JWK.
fn verifies(jwt: &str, key: &SigningKey) -> Result<Value, crate::core::token::JwtError> {
    let keys = KeySet::parse(jwks(std::slice::from_ref(key)).as_bytes()).unwrap();
    let verified = decode(jwt, AlgSet::all())?.verify(&keys)?;
    Ok(Value::Object(verified.claims().clone()))
}

#[test]
fn ec_keys_from_pkcs8_sec1_and_jwk_sign_es256_that_verifies_with_the_published_jwk() {
    let pkcs8 = SigningKey::parse(EC_PKCS8, false).unwrap();
    let sec1 = SigningKey::parse(EC_SEC1, false).unwrap();
    assert_eq!(pkcs8.public_jwk, sec1.public_jwk, "one key, two PEM forms");
    assert_eq!(pkcs8.algorithm(), Algorithm::Es256);
    let mut jwk = pkcs8.public_jwk.clone();
    let secret = p256::SecretKey::from_pkcs8_pem(EC_PKCS8).unwrap();
    jwk["d"] = json!(URL_SAFE_NO_PAD.encode(secret.to_bytes()));
    jwk["kid"] = json!("assertion-2026");
    let from_jwk = SigningKey::parse(&jwk.to_string(), false).unwrap();
    assert_eq!(from_jwk.kid, "assertion-2026", "a JWK's own kid is kept");
    let claims = r#"{"sub":"alice","exp":9999999999}"#;
    for key in [&pkcs8, &sec1, &from_jwk] {
        let jwt = key.sign(claims, &mut FixedRng(0)).unwrap();
        assert_eq!(verifies(&jwt, key).unwrap()["sub"], "alice");
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "ES256", "kid": key.kid, "typ": "JWT"}));
    }
    let other = SigningKey::parse(&jwk.to_string().replace("assertion-2026", "x"), false).unwrap();
    let forged = pkcs8.sign(claims, &mut FixedRng(0)).unwrap();
    let mut tampered = forged.clone();
    tampered.replace_range(forged.len() - 4.., "AAAA");
    assert!(verifies(&tampered, &other).is_err());
}

#[test]
fn the_kid_without_a_jwk_is_the_rfc_7638_thumbprint() {
    // RFC 7638 section 3.1's example key and thumbprint.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let members = vec![("e", "AQAB".to_string()), ("kty", "RSA".to_string()), ("n", n.to_string())];
    assert_eq!(thumbprint(&members), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    let key = SigningKey::parse(EC_PKCS8, false).unwrap();
    let members: Vec<(&'static str, String)> =
        ["crv", "kty", "x", "y"].iter().map(|m| (*m, key.public_jwk[*m].as_str().unwrap().to_string())).collect();
    assert_eq!(key.kid, thumbprint(&members));
    assert_eq!(key.public_jwk["use"], "sig");
    assert!(key.public_jwk.get("d").is_none(), "the published JWK has no private part");
}

#[test]
fn rsa_keys_sign_rs256_with_blinding_from_the_given_randomness() {
    let pkcs8 = SigningKey::parse(RSA_PKCS8, true).unwrap();
    let pkcs1 = SigningKey::parse(RSA_PKCS1, true).unwrap();
    assert_eq!(pkcs8.public_jwk, pkcs1.public_jwk);
    assert_eq!(pkcs8.algorithm(), Algorithm::Rs256);
    let jwt = pkcs8.sign(r#"{"sub":"web","exp":9999999999}"#, &mut FixedRng(1)).unwrap();
    assert_eq!(verifies(&jwt, &pkcs8).unwrap()["sub"], "web");
    let again = pkcs8.sign(r#"{"sub":"web","exp":9999999999}"#, &mut FixedRng(200)).unwrap();
    assert_eq!(jwt, again, "PKCS#1 v1.5 signatures are deterministic; blinding changes only the work");
    assert!(!format!("{pkcs8:?}").contains(&pkcs8.public_jwk["n"].as_str().unwrap()[..20]));
    // A source with a short period (or one that failed and gave zeros) once made the rsa
    // crate's rejection sampling loop forever; the blinding stream is ChaCha20 keyed by it.
    struct Zeros;
    impl Random for Zeros {
        fn fill(&mut self, buf: &mut [u8]) {
            buf.fill(0);
        }
    }
    assert_eq!(pkcs8.sign(r#"{"sub":"web","exp":9999999999}"#, &mut Zeros).unwrap(), jwt);
}

#[test]
fn other_keys_are_refused_with_a_reason_that_shows_no_key() {
    assert_eq!(SigningKey::parse(RSA_PKCS8, false).unwrap_err(), KeyError::RsaNotAllowed);
    assert_eq!(SigningKey::parse(RSA_1024, true).unwrap_err(), KeyError::RsaSize);
    assert_eq!(SigningKey::parse(EC_P384, true).unwrap_err(), KeyError::Unsupported);
    assert_eq!(SigningKey::parse("hunter2", true).unwrap_err(), KeyError::NotAKey);
    assert_eq!(
        SigningKey::parse("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", true).unwrap_err(),
        KeyError::Unsupported
    );
    assert_eq!(
        SigningKey::parse("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----", true).unwrap_err(),
        KeyError::Unsupported
    );
    let key = SigningKey::parse(EC_PKCS8, false).unwrap();
    let public_only = key.public_jwk.to_string();
    assert_eq!(SigningKey::parse(&public_only, false).unwrap_err(), KeyError::Invalid, "a JWK without d");
    let mut wrong = key.public_jwk.clone();
    wrong["d"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    assert_eq!(SigningKey::parse(&wrong.to_string(), false).unwrap_err(), KeyError::Mismatch);
    wrong["kty"] = json!("oct");
    assert_eq!(SigningKey::parse(&wrong.to_string(), false).unwrap_err(), KeyError::Unsupported);
    for e in [KeyError::NotAKey, KeyError::Invalid, KeyError::Mismatch] {
        assert!(!e.to_string().is_empty());
    }
}
