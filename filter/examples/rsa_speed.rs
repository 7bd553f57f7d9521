//! Times RS256 verification natively, the `rsa` crate against oidc-gate's Montgomery
//! path: cargo run --release --example rsa_speed
#![allow(clippy::unwrap_used)]
use oidc_gate::core::token::rsa_pub::{verify_pkcs1v15, MontKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use std::time::Instant;

fn main() {
    let key = RsaPrivateKey::from_pkcs8_pem(include_str!("../testdata/rsa-a.pem")).unwrap();
    let public = RsaPublicKey::from(&key);
    let digest = Sha256::digest(b"header.payload");
    let sig = key.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).unwrap();
    let mont = MontKey::new(&public.n().to_bytes_be(), &public.e().to_bytes_be()).unwrap();
    let n = 2000;
    let start = Instant::now();
    for _ in 0..n {
        public.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig).unwrap();
    }
    println!("rsa crate RS256 verify:    {:.1} us", start.elapsed().as_secs_f64() * 1e6 / n as f64);
    let start = Instant::now();
    for _ in 0..n {
        assert!(verify_pkcs1v15(&mont, &digest, &sig));
    }
    println!("Montgomery RS256 verify:   {:.1} us", start.elapsed().as_secs_f64() * 1e6 / n as f64);
}
