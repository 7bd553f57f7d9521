//! Web primitives: URLs, forms and query strings, cookies, safe redirects, path rules,
//! the request's origin, and every local response the filter sends (with its pages).

pub mod cookies;
pub mod form;
pub mod origin;
pub mod pages;
pub mod path_rule;
pub mod redirect;
pub mod resource_metadata;
pub mod response;
pub mod url;

pub use origin::Origin;
pub use path_rule::{is_normalized, path_only, PathRule};
pub use redirect::{is_local_path, safe_return};
pub use response::LocalResponse;
pub use url::AbsoluteUrl;
