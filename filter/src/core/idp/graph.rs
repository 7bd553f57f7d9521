//! Microsoft Graph, for an Entra ID groups overage (see `identity::overage`): the groups
//! of the signed-in user are read at login with its access token (delegated permission
//! `GroupMember.Read.All`), by `POST /v1.0/me/getMemberObjects` with
//! `{"securityEnabledOnly": false}`, which answers every group (and directory role) the
//! user is a member of, directly or transitively, as object ids, in one page:
//! `{"@odata.context": "…", "value": ["<id>", …]}`
//! (<https://learn.microsoft.com/graph/api/directoryobject-getmemberobjects>).

use serde::Deserialize;

use super::{Callout, CalloutTarget};

/// The request for the user's groups, with the login's access token.
pub fn request(target: CalloutTarget, access_token: &str) -> Callout {
    let headers = vec![
        ("authorization", format!("Bearer {access_token}")),
        ("content-type", "application/json".to_string()),
        ("accept", "application/json".to_string()),
    ];
    Callout { target, method: "POST", headers, body: Some(r#"{"securityEnabledOnly":false}"#.to_string()) }
}

#[derive(Deserialize)]
struct Answer {
    value: Vec<String>,
}

/// Why Graph gave no groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphError {
    /// No answer, or not 200 (`Some(403)`: the permission is not granted).
    Status(Option<u16>),
    /// Not the documented JSON, or an id of a shape Graph never gives.
    Malformed,
}

/// The group ids of a 200 answer: each 1 to 64 letters, digits and `-` (object ids are
/// GUIDs), so that none can smuggle a separator or a control character into a header.
pub fn parse(status: Option<u16>, body: &[u8]) -> Result<Vec<String>, GraphError> {
    if status != Some(200) {
        return Err(GraphError::Status(status));
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|_| GraphError::Malformed)?;
    let plain =
        |id: &String| !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !answer.value.iter().all(plain) {
        return Err(GraphError::Malformed);
    }
    Ok(answer.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_answer_gives_the_ids() {
        let body = br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
            "value":["fee2c45b-915a-4a64-b130-f4eb9e75525e","4fe90ae7-065a-478b-9400-e0a0e1cbd540"]}"#;
        assert_eq!(
            parse(Some(200), body),
            Ok(vec!["fee2c45b-915a-4a64-b130-f4eb9e75525e".into(), "4fe90ae7-065a-478b-9400-e0a0e1cbd540".into()])
        );
        assert_eq!(parse(Some(200), br#"{"value":[]}"#), Ok(vec![]));
    }

    #[test]
    fn anything_else_gives_no_groups() {
        assert_eq!(
            parse(Some(403), br#"{"error":{"code":"Authorization_RequestDenied"}}"#),
            Err(GraphError::Status(Some(403)))
        );
        assert_eq!(parse(None, b""), Err(GraphError::Status(None)));
        for bad in [
            &b"<html>"[..],
            br#"{"value":"g"}"#,
            br#"{"value":[1]}"#,
            br#"{"value":["a,b"]}"#,
            br#"{"value":[""]}"#,
            br#"{"value":["a\r\nx"]}"#,
            br#"{}"#,
        ] {
            assert_eq!(parse(Some(200), bad), Err(GraphError::Malformed), "{}", String::from_utf8_lossy(bad));
        }
        let long = format!(r#"{{"value":["{}"]}}"#, "a".repeat(65));
        assert_eq!(parse(Some(200), long.as_bytes()), Err(GraphError::Malformed));
    }

    #[test]
    fn the_request_carries_the_token_and_the_documented_body() {
        let target = CalloutTarget {
            cluster: "graph".into(),
            authority: "graph.microsoft.com".into(),
            path: "/v1.0/me/getMemberObjects".into(),
        };
        let c = request(target, "tok");
        assert_eq!((c.method, c.body.as_deref()), ("POST", Some(r#"{"securityEnabledOnly":false}"#)));
        assert!(c.headers.contains(&("authorization", "Bearer tok".to_string())));
        assert!(!format!("{c:?}").contains("tok"), "Debug shows no token");
    }
}
