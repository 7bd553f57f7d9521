//! CORS preflights (`cors_preflight: "allow"`): a browser asks with `OPTIONS`, an `Origin`
//! and `Access-Control-Request-Method`, and never sends credentials with it (Fetch
//! standard, CORS-preflight fetch). Only such a request passes unauthenticated, so the
//! app (or Envoy's CORS filter) can answer it; anything else is judged as usual.

use super::request::{Request, TokenHeader};

/// Whether the request is a CORS preflight as a browser sends it: no `Authorization`, no
/// `Cookie`, no configured token header, and no body (a preflight has none; an app that
/// does not check the method would take one as a real request's).
pub(super) fn is_preflight(req: &mut Request<'_>, token_headers: &[TokenHeader]) -> bool {
    let present = |req: &mut Request<'_>, name: &str| req.header(name).is_some();
    !req.body_follows()
        && req.header(":method").as_deref() == Some("OPTIONS")
        && present(req, "origin")
        && present(req, "access-control-request-method")
        && req.cookie().is_none()
        && !present(req, "cookie")
        && !present(req, "authorization")
        && !token_headers.iter().any(|h| present(req, &h.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::MapHeaders;

    fn check(pairs: &[(&str, &str)], token_headers: &[TokenHeader]) -> bool {
        let mut headers = MapHeaders::new(pairs);
        let mut req = Request::read(&mut headers, true);
        is_preflight(&mut req, token_headers)
    }

    const PREFLIGHT: [(&str, &str); 4] = [
        (":method", "OPTIONS"),
        (":path", "/api/orders"),
        ("origin", "https://spa.example"),
        ("access-control-request-method", "POST"),
    ];

    #[test]
    fn only_an_options_request_with_origin_and_request_method_and_no_credentials_is_one() {
        assert!(check(&PREFLIGHT, &[]));
        let without = |name: &str| PREFLIGHT.iter().copied().filter(|(n, _)| *n != name).collect::<Vec<_>>();
        assert!(!check(&without("origin"), &[]));
        assert!(!check(&without("access-control-request-method"), &[]));
        let with = |extra: (&'static str, &'static str)| {
            let mut v = PREFLIGHT.to_vec();
            v.push(extra);
            v
        };
        assert!(!check(&with(("cookie", "__Host-oidc_session=x")), &[]), "browsers send no cookies with a preflight");
        assert!(!check(&with(("authorization", "Bearer t")), &[]));
        let flyte = [TokenHeader { name: "flyte-authorization".into(), raw: false }];
        assert!(!check(&with(("flyte-authorization", "Bearer t")), &flyte));
        assert!(check(&PREFLIGHT, &flyte));
        let mut get = PREFLIGHT.to_vec();
        get[0] = (":method", "GET");
        assert!(!check(&get, &[]));
    }

    #[test]
    fn an_options_request_with_a_body_is_no_preflight() {
        // A handler that does not check the method would take the body as a real request's.
        let mut headers = MapHeaders::new(&PREFLIGHT).with_body();
        let mut req = Request::read(&mut headers, true);
        assert!(!is_preflight(&mut req, &[]));
    }
}
