//! The project's own signature checks as `jwt-compact` algorithms: RS256/384/512 and
//! PS256/384/512 over the Montgomery RSA of `rsa_pub/`, ES256 and ES384 over
//! `ecdsa/`, and EdDSA over ed25519-dalek's strict check. Verification only: these
//! algorithms have no signing key type that could ever be made.

use jwt_compact::{Algorithm, AlgorithmSignature};
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::borrow::Cow;
use std::num::NonZeroUsize;

use super::ecdsa;
use super::rsa_pub::{verify_pkcs1v15, verify_pss, MontKey};
use super::Alg;

/// No value of this type exists: the filter never signs tokens.
pub enum NoSigning {}

/// Signature bytes as the token carries them (RSA: the modulus' length, checked when
/// verifying).
pub struct RawSignature(Vec<u8>);

impl AlgorithmSignature for RawSignature {
    fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
        Ok(RawSignature(slice.to_vec()))
    }

    fn as_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.0)
    }
}

/// RS256/384/512 and PS256/384/512 (the `Alg` says which).
pub struct Rsa(pub Alg);

impl Algorithm for Rsa {
    type SigningKey = NoSigning;
    type VerifyingKey = MontKey;
    type Signature = RawSignature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.0.name())
    }

    fn sign(&self, signing_key: &NoSigning, _: &[u8]) -> RawSignature {
        match *signing_key {}
    }

    fn verify_signature(&self, signature: &RawSignature, key: &MontKey, message: &[u8]) -> bool {
        let sig = &signature.0;
        match self.0 {
            Alg::RS256 => verify_pkcs1v15(key, &Sha256::digest(message), sig),
            Alg::RS384 => verify_pkcs1v15(key, &Sha384::digest(message), sig),
            Alg::RS512 => verify_pkcs1v15(key, &Sha512::digest(message), sig),
            Alg::PS256 => verify_pss::<Sha256>(key, message, sig),
            Alg::PS384 => verify_pss::<Sha384>(key, message, sig),
            Alg::PS512 => verify_pss::<Sha512>(key, message, sig),
            Alg::ES256 | Alg::ES384 | Alg::EdDSA => false,
        }
    }
}

/// A signature of fixed length: ECDSA's r || s, each as long as the field (RFC 7518
/// section 3.4; `N` is 64 for ES256, 96 for ES384), or Ed25519's R || S (64, RFC 8032).
pub struct FixedSignature<const N: usize>([u8; N]);

impl<const N: usize> AlgorithmSignature for FixedSignature<N> {
    const LENGTH: Option<NonZeroUsize> = NonZeroUsize::new(N);

    fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
        Ok(FixedSignature(slice.try_into().map_err(|_| anyhow::anyhow!("signature of the wrong length"))?))
    }

    fn as_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.0)
    }
}

/// ES256 over `ecdsa/` (P-256, SHA-256).
pub struct Es256;

impl Algorithm for Es256 {
    type SigningKey = NoSigning;
    type VerifyingKey = ecdsa::P256Key;
    type Signature = FixedSignature<64>;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("ES256")
    }

    fn sign(&self, signing_key: &NoSigning, _: &[u8]) -> FixedSignature<64> {
        match *signing_key {}
    }

    fn verify_signature(&self, signature: &FixedSignature<64>, key: &ecdsa::P256Key, message: &[u8]) -> bool {
        key.verify(message, &signature.0)
    }
}

/// ES384 over `ecdsa/` (P-384, SHA-384).
pub struct Es384;

impl Algorithm for Es384 {
    type SigningKey = NoSigning;
    type VerifyingKey = ecdsa::P384Key;
    type Signature = FixedSignature<96>;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("ES384")
    }

    fn sign(&self, signing_key: &NoSigning, _: &[u8]) -> FixedSignature<96> {
        match *signing_key {}
    }

    fn verify_signature(&self, signature: &FixedSignature<96>, key: &ecdsa::P384Key, message: &[u8]) -> bool {
        key.verify(message, &signature.0)
    }
}

/// EdDSA with Ed25519 (RFC 8037), over ed25519-dalek's `verify_strict`: S must be
/// canonical (below the group order), and a key or an R of small order is refused, so that
/// no signature holds for more than one message under a key nobody holds the secret of.
/// Small-order keys are also refused when the JWKS is read (`jwk.rs`).
pub struct EdDsa;

impl Algorithm for EdDsa {
    type SigningKey = NoSigning;
    type VerifyingKey = ed25519_dalek::VerifyingKey;
    type Signature = FixedSignature<64>;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("EdDSA")
    }

    fn sign(&self, signing_key: &NoSigning, _: &[u8]) -> FixedSignature<64> {
        match *signing_key {}
    }

    fn verify_signature(
        &self,
        signature: &FixedSignature<64>,
        key: &ed25519_dalek::VerifyingKey,
        message: &[u8],
    ) -> bool {
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature.0)).is_ok()
    }
}
