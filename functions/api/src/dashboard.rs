//! The web dashboard: a few static files embedded in the binary so the API Lambda and
//! `vigil serve` serve the same page from the same router, with nothing fetched from a
//! CDN or S3. These routes are not API operations and stay out of the OpenAPI document.
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// No inline script or style, nothing from another origin, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Every embedded file: name under `/ui/`, content type, bytes.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../assets/dashboard/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/dashboard/app.js"),
    ),
    (
        "ui.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/dashboard/ui.js"),
    ),
    (
        "pages.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/dashboard/pages.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/dashboard/style.css"),
    ),
];

/// A strong validator from the bytes (FNV-1a 64), so a new binary revalidates changed files.
fn etag(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some((_, content_type, bytes)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return ApiError::NotFound("route").into_response();
    };
    let tag = etag(bytes);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == tag);
    let status = if fresh {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut response = if fresh {
        status.into_response()
    } else {
        (status, *bytes).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Revalidate each load: the ETag keeps that a 304 with no body.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// `/`: the dashboard's page.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `/ui/{file}`: one embedded asset, or 404.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> Vec<u8> {
        axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn every_asset_has_the_csp_its_type_and_an_etag() {
        let root = index(HeaderMap::new()).await;
        assert_eq!(root.status(), StatusCode::OK);
        assert_eq!(root.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        assert!(
            root.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        for (name, content_type, bytes) in ASSETS {
            let r = asset(Path(name.to_string()), HeaderMap::new()).await;
            assert_eq!(r.status(), StatusCode::OK, "{name}");
            assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP, "{name}");
            assert_eq!(r.headers()[header::CONTENT_TYPE], *content_type, "{name}");
            let tag = r.headers()[header::ETAG].clone();
            assert_eq!(body(r).await, *bytes, "{name}");
            let mut again = HeaderMap::new();
            again.insert(header::IF_NONE_MATCH, tag);
            let r = asset(Path(name.to_string()), again).await;
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{name}");
        }
        let missing = asset(Path("nope.js".into()), HeaderMap::new()).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn no_inline_script_style_or_handlers() {
        for (name, _, bytes) in ASSETS {
            let text = String::from_utf8_lossy(bytes).to_lowercase();
            if name.ends_with(".html") {
                for script in text.split("<script").skip(1) {
                    let open = script.split('>').next().unwrap_or_default();
                    assert!(open.contains("src="), "{name}: inline <script>");
                    assert!(
                        script[open.len()..]
                            .trim_start_matches('>')
                            .starts_with("</script"),
                        "{name}: script with a body"
                    );
                }
                assert!(!text.contains("<style"), "{name}: inline <style>");
                assert!(!text.contains(" style="), "{name}: style attribute");
                assert!(!text.contains("javascript:"), "{name}: javascript: URL");
                for token in text.split(|c: char| c.is_whitespace() || c == '<') {
                    let attr = token.split('=').next().unwrap_or_default();
                    assert!(
                        !(token.contains('=') && attr.starts_with("on") && attr.len() > 2),
                        "{name}: handler attribute {token}"
                    );
                }
            }
            if name.ends_with(".js") {
                assert!(!text.contains("innerhtml"), "{name}: innerHTML");
                assert!(!text.contains("eval("), "{name}: eval");
                assert!(
                    !text.contains("setattribute(\"on"),
                    "{name}: handler attribute"
                );
                assert!(
                    !text.contains("setattribute(\"style"),
                    "{name}: style attribute"
                );
            }
        }
    }
}
