//! The signature algorithms this filter accepts (RFC 7518), and allow-lists of them.
//! Only asymmetric algorithms exist here: `none` and every HMAC algorithm are refused
//! before any key is looked at, so a public key can never act as an HMAC secret.

use super::JwtError;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 9] =
        [Alg::RS256, Alg::RS384, Alg::RS512, Alg::PS256, Alg::PS384, Alg::PS512, Alg::ES256, Alg::ES384, Alg::EdDSA];

    pub fn parse(name: &str) -> Result<Alg, JwtError> {
        Alg::ALL.into_iter().find(|a| a.name() == name).ok_or(JwtError::DisallowedAlg)
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of allowed algorithms.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AlgSet(u16);

impl AlgSet {
    pub fn all() -> Self {
        AlgSet(Alg::ALL.iter().fold(0, |acc, a| acc | a.bit()))
    }
    pub fn empty() -> Self {
        AlgSet(0)
    }
    pub fn insert(&mut self, alg: Alg) {
        self.0 |= alg.bit();
    }
    pub fn contains(self, alg: Alg) -> bool {
        self.0 & alg.bit() != 0
    }
}
