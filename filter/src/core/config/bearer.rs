//! The bearer section's own keys (issuers and audiences compile with the IdP section).

use super::errors::Errors;
use super::raw::RawBearer;
use crate::core::token::{Alg, AlgSet};

/// `bearer.algorithms`: the allow-list, every algorithm when absent.
pub(super) fn algorithms(raw: &RawBearer, errors: &mut Errors) -> AlgSet {
    let Some(list) = &raw.algorithms else { return AlgSet::all() };
    let mut set = AlgSet::empty();
    for (n, name) in list.iter().enumerate() {
        match Alg::parse(name) {
            Ok(a) => set.insert(a),
            Err(_) => errors.push(
                format!("bearer.algorithms[{n}]"),
                "is not allowed; choose from RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA",
            ),
        }
    }
    if list.is_empty() {
        errors.push("bearer.algorithms", "must name at least one algorithm");
    }
    set
}
