//! Server-rendered HTML. Every value that comes from outside is escaped.

use std::time::SystemTime;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::ehr_session::Login;
use crate::smart::{Registry, Server, SmartError, format_utc};

/// HTML-escapes text for element content and quoted attributes (the core's escaper, the one
/// its auto-submit form uses).
pub(crate) use safire_core::escape_html as esc;

fn document(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{t} · SMART app</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:44em;margin:2em auto;padding:0 1em;color:#1d2630}}\
         header{{border-bottom:3px solid #2d6a9e;margin-bottom:1em}} dt{{font-weight:600;margin-top:.6em}}\
         .error{{color:#9e2d2d}} button{{font-size:1em;padding:.3em 1em}} code{{background:#eef2f6}}\
         </style></head><body><header><strong>SMART app</strong> (Safire reference)</header>\
         <h1>{t}</h1>\n{body}\n</body></html>\n",
        t = esc(title)
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https: http:; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The error page.
pub(crate) fn error(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<p id=\"error\" class=\"error\">{}</p><p><a id=\"home\" href=\"/\">Back to the start</a></p>",
        esc(message)
    );
    document(status, title, &body)
}

/// The server picker (standalone launch).
pub(crate) fn login(registry: &Registry) -> Response {
    login_with_notice(registry, None)
}

/// The server picker with a notice above it.
pub(crate) fn login_with_notice(registry: &Registry, notice: Option<&str>) -> Response {
    let options: String = registry
        .servers()
        .iter()
        .map(|s| {
            format!(
                "<option value=\"{n}\">{n} ({b})</option>",
                n = esc(&s.name),
                b = esc(s.fhir_base.as_str())
            )
        })
        .collect();
    let notice = notice
        .map(|n| format!("<p id=\"notice\" class=\"error\">{}</p>", esc(n)))
        .unwrap_or_default();
    let body = format!(
        "{notice}<p id=\"signed-out\">You are not signed in. Choose your health record system:</p>\
         <form method=\"get\" action=\"/login\">\
         <label>Server <select id=\"server\" name=\"server\">{options}</select></label> \
         <button id=\"login\" type=\"submit\">Sign in</button></form>\
         <p><small>EHRs can also launch this app at <code>/launch</code>.</small></p>"
    );
    document(StatusCode::OK, "Sign in", &body)
}

/// The patient page.
pub(crate) fn patient(
    server: &Server,
    login: &Login,
    patient: Option<Result<Value, SmartError>>,
    now: SystemTime,
) -> Response {
    let (name, birth) = match &patient {
        Some(Ok(resource)) => (
            esc(&display_name(resource)),
            esc(resource["birthDate"].as_str().unwrap_or("unknown")),
        ),
        Some(Err(e)) => (
            format!(
                "<span class=\"error\" id=\"patient-error\">could not be read: {}</span>",
                esc(&e.to_string())
            ),
            String::from("unknown"),
        ),
        None => (
            String::from("<em>no patient in context</em>"),
            String::new(),
        ),
    };
    let fhir_user = login.session.fhir_user.as_deref().map_or_else(
        || "<em>none</em>".to_owned(),
        |u| format!("<code>{}</code>", esc(u)),
    );
    let scopes: String = login
        .session
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", esc(s.as_str())))
        .collect();
    let expires = match login.session.expires_at {
        Some(at) => {
            let left = at.duration_since(now).map_or(0, |d| d.as_secs());
            format!("{} (in {left} s)", format_utc(at))
        }
        None => "not said by the server".to_owned(),
    };
    let body = format!(
        "<dl>\
         <dt>Patient</dt><dd id=\"patient-name\">{name}</dd>\
         <dt>Birth date</dt><dd id=\"birth-date\">{birth}</dd>\
         <dt>Signed in as (fhirUser)</dt><dd id=\"fhir-user\">{fhir_user}</dd>\
         <dt>Server</dt><dd id=\"server-name\">{server} <code>{base}</code></dd>\
         <dt>Granted scopes</dt><dd><ul id=\"scopes\">{scopes}</ul></dd>\
         <dt>Access token expires</dt><dd id=\"expires\">{expires}</dd>\
         <dt>Token refreshes</dt><dd id=\"refreshes\">{refreshes}</dd>\
         </dl>\
         <form method=\"post\" action=\"/logout\"><button id=\"logout\" type=\"submit\">Sign out</button></form>",
        server = esc(&server.name),
        base = esc(server.fhir_base.as_str()),
        refreshes = login.refreshes,
    );
    document(StatusCode::OK, "Patient", &body)
}

/// The self-submitting form of a POST authorization request (the library writes it).
pub(crate) fn auto_submit(html: &str) -> Response {
    let mut response = (StatusCode::OK, html.to_owned()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `name[0]`: its `text`, else the given names and the family name.
fn display_name(patient: &Value) -> String {
    let Some(name) = patient["name"].as_array().and_then(|n| n.first()) else {
        return "unnamed".to_owned();
    };
    if let Some(text) = name["text"].as_str() {
        return text.to_owned();
    }
    let mut parts: Vec<&str> = name["given"]
        .as_array()
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(family) = name["family"].as_str() {
        parts.push(family);
    }
    if parts.is_empty() {
        "unnamed".to_owned()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn names() {
        let p = serde_json::json!({"name":[{"given":["Amy","B"],"family":"Shaw"}]});
        assert_eq!(display_name(&p), "Amy B Shaw");
        let p = serde_json::json!({"name":[{"text":"Dr. X"}]});
        assert_eq!(display_name(&p), "Dr. X");
        assert_eq!(display_name(&serde_json::json!({})), "unnamed");
    }
}
