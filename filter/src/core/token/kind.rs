//! Token kinds that IdPs state in the claims rather than in the JOSE header, and the
//! audience rule for access tokens that name none:
//! - Keycloak's `typ` claim: `Bearer` for access tokens, `ID`, `Refresh`, `Logout`… for
//!   the others; anything but `Bearer` is refused as a bearer credential;
//! - AWS Cognito's `token_use`: `access` or `id`; anything but `access` is refused;
//! - a token without `aud` (Cognito's access tokens carry `client_id` instead) passes the
//!   audience check only when its `client_id` is one of `bearer.client_ids`.

use serde_json::{Map, Value};
use std::time::Duration;

use super::JwtError;

/// Refuses tokens whose claims say they are not access tokens.
pub fn access_token(claims: &Map<String, Value>) -> Result<(), JwtError> {
    match claims.get("typ") {
        None => {}
        Some(Value::String(t)) if t.eq_ignore_ascii_case("Bearer") => {}
        Some(Value::String(t)) if t.eq_ignore_ascii_case("ID") => return Err(JwtError::IdTokenAsBearer),
        Some(_) => return Err(JwtError::NotAccessToken),
    }
    match claims.get("token_use") {
        None => Ok(()),
        Some(Value::String(t)) if t == "access" => Ok(()),
        Some(Value::String(t)) if t == "id" => Err(JwtError::IdTokenAsBearer),
        Some(_) => Err(JwtError::NotAccessToken),
    }
}

/// A token that names no audience, whose `client_id` is one of `client_ids`: checked by
/// [`check_without_audience`] instead of the audience check.
pub fn unaudienced_client(claims: &Map<String, Value>, client_ids: &[String]) -> bool {
    !claims.contains_key("aud")
        && claims.get("client_id").and_then(Value::as_str).is_some_and(|c| client_ids.iter().any(|x| x == c))
}

/// `exp` (required), `nbf` and `iat` with the clock skew, as [`super::Jwt::check`] does,
/// for a token that passes the audience rule through its `client_id`; `iss` is checked by
/// the caller ([`super::issuer::IssuerRule::checked`]). Returns `exp` in seconds.
pub fn check_without_audience(claims: &Map<String, Value>, now_s: u64, skew: Duration) -> Result<u64, JwtError> {
    let date = |name: &str| super::jwt::numeric_date(claims, name);
    let exp = date("exp")?.ok_or(JwtError::MissingExp)?;
    let (nbf, iat) = (date("nbf")?, date("iat")?);
    let skew = skew.as_secs();
    if now_s > exp.saturating_add(skew) {
        return Err(JwtError::Expired);
    }
    let latest_start = now_s.saturating_add(skew);
    if nbf.is_some_and(|t| t > latest_start) || iat.is_some_and(|t| t > latest_start) {
        return Err(JwtError::NotYetValid);
    }
    Ok(exp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn keycloak_typ_passes_only_bearer() {
        assert_eq!(access_token(&claims(json!({"typ": "Bearer"}))), Ok(()));
        assert_eq!(access_token(&claims(json!({}))), Ok(()));
        assert_eq!(access_token(&claims(json!({"typ": "ID"}))), Err(JwtError::IdTokenAsBearer));
        for other in [json!("Refresh"), json!("Offline"), json!("Logout"), json!(1), json!(null)] {
            assert_eq!(access_token(&claims(json!({"typ": other}))), Err(JwtError::NotAccessToken), "{other}");
        }
    }

    #[test]
    fn cognito_token_use_passes_only_access() {
        assert_eq!(access_token(&claims(json!({"token_use": "access"}))), Ok(()));
        assert_eq!(access_token(&claims(json!({"token_use": "id"}))), Err(JwtError::IdTokenAsBearer));
        assert_eq!(access_token(&claims(json!({"token_use": "Access"}))), Err(JwtError::NotAccessToken));
    }

    #[test]
    fn a_token_without_aud_passes_only_for_a_listed_client() {
        let ids = vec!["app".to_string()];
        assert!(unaudienced_client(&claims(json!({"client_id": "app"})), &ids));
        assert!(!unaudienced_client(&claims(json!({"client_id": "other"})), &ids));
        assert!(!unaudienced_client(&claims(json!({"client_id": "app", "aud": "x"})), &ids), "aud is checked as usual");
        assert!(!unaudienced_client(&claims(json!({})), &ids));
        assert!(!unaudienced_client(&claims(json!({"client_id": "app"})), &[]));
    }

    #[test]
    fn times_are_checked_as_for_any_token() {
        let skew = Duration::from_secs(60);
        assert_eq!(check_without_audience(&claims(json!({"exp": 2000})), 1000, skew), Ok(2000));
        assert_eq!(check_without_audience(&claims(json!({})), 1000, skew), Err(JwtError::MissingExp));
        assert_eq!(check_without_audience(&claims(json!({"exp": 900})), 1000, skew), Err(JwtError::Expired));
        assert_eq!(
            check_without_audience(&claims(json!({"exp": 2000, "nbf": 1100})), 1000, skew),
            Err(JwtError::NotYetValid)
        );
        assert_eq!(
            check_without_audience(&claims(json!({"exp": 2000, "iat": 1100})), 1000, skew),
            Err(JwtError::NotYetValid)
        );
        assert_eq!(check_without_audience(&claims(json!({"exp": "soon"})), 1000, skew), Err(JwtError::Malformed));
    }
}
