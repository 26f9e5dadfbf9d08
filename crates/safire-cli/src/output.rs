//! Human-readable output. Secrets are printed only when the caller passes `show_secrets`.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::flows::{self, Finding, Introspection, RegisteredClient, SmartMetadata, TokenResponse};

/// One `label  value` line.
fn line(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "  {label:<28} {value}");
}

fn list(values: &[String]) -> String {
    if values.is_empty() {
        "-".to_owned()
    } else {
        values.join(" ")
    }
}

fn opt(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or("-")
}

/// The discovery report: endpoints, what is advertised, capabilities, findings.
pub fn discovery(base: &str, metadata: &SmartMetadata, findings: &[Finding]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "SMART configuration of {base}\n\nEndpoints");
    for (label, value) in [
        ("issuer", &metadata.issuer),
        ("authorization_endpoint", &metadata.authorization_endpoint),
        ("token_endpoint", &metadata.token_endpoint),
        ("registration_endpoint", &metadata.registration_endpoint),
        ("management_endpoint", &metadata.management_endpoint),
        ("introspection_endpoint", &metadata.introspection_endpoint),
        ("revocation_endpoint", &metadata.revocation_endpoint),
        ("jwks_uri", &metadata.jwks_uri),
    ] {
        line(&mut out, label, opt(value.as_deref()));
    }
    for endpoint in &metadata.associated_endpoints {
        line(
            &mut out,
            "associated endpoint",
            &format!("{} ({})", endpoint.url, list(&endpoint.capabilities)),
        );
    }
    let _ = writeln!(out, "\nAdvertised");
    for (label, values) in [
        ("grant_types_supported", &metadata.grant_types_supported),
        (
            "token_endpoint_auth_methods",
            &metadata.token_endpoint_auth_methods_supported,
        ),
        (
            "auth_signing_algs",
            &metadata.token_endpoint_auth_signing_alg_values_supported,
        ),
        (
            "code_challenge_methods",
            &metadata.code_challenge_methods_supported,
        ),
        (
            "response_types_supported",
            &metadata.response_types_supported,
        ),
        ("scopes_supported", &metadata.scopes_supported),
    ] {
        line(&mut out, label, &list(values));
    }
    let _ = writeln!(out, "\nCapabilities ({})", metadata.capabilities.len());
    for capability in &metadata.capabilities {
        let _ = writeln!(out, "  {capability}");
    }
    let _ = writeln!(out, "\nSupported by Safire's rules");
    for (label, supported) in flows::capability_summary(metadata) {
        let mark = if supported { "yes" } else { "no" };
        line(&mut out, label, mark);
    }
    let algorithms = flows::asymmetric_algorithms(metadata);
    line(
        &mut out,
        "assertion algorithms",
        &if algorithms.is_empty() {
            "-".to_owned()
        } else {
            algorithms.join(" ")
        },
    );
    let errors = findings.iter().filter(|f| f.is_error()).count();
    let _ = writeln!(
        out,
        "\nCompliance findings ({} errors, {} warnings)",
        errors,
        findings.len() - errors
    );
    if findings.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for finding in findings {
        match &finding.field {
            Some(field) => {
                let _ = writeln!(
                    out,
                    "  {:<8} [{field}] {}",
                    finding.severity, finding.message
                );
            }
            None => {
                let _ = writeln!(out, "  {:<8} {}", finding.severity, finding.message);
            }
        }
    }
    out
}

/// A token response: what was granted, for how long, and the launch context.
pub fn token(token: &TokenResponse, show_secrets: bool) -> String {
    let mut out = String::new();
    line(&mut out, "scope", opt(token.scope.as_deref()));
    line(&mut out, "token_type", opt(token.token_type.as_deref()));
    let expiry = match (token.expires_in, token.expires_at) {
        (Some(seconds), Some(at)) => format!("in {seconds} s ({})", rfc3339(at)),
        (Some(seconds), None) => format!("in {seconds} s"),
        _ => "not stated".to_owned(),
    };
    line(&mut out, "expires", &expiry);
    for (label, value) in [
        ("patient", &token.launch.patient),
        ("encounter", &token.launch.encounter),
        ("smart_style_url", &token.launch.smart_style_url),
        ("intent", &token.launch.intent),
        ("tenant", &token.launch.tenant),
    ] {
        if let Some(value) = value {
            line(&mut out, label, value);
        }
    }
    if let Some(banner) = token.launch.need_patient_banner {
        line(&mut out, "need_patient_banner", &banner.to_string());
    }
    for item in &token.launch.fhir_context {
        let target = item
            .reference
            .as_deref()
            .or(item.canonical.as_deref())
            .map(str::to_owned)
            .or_else(|| item.identifier.as_ref().map(|i| i.to_string()))
            .unwrap_or_else(|| "-".to_owned());
        let role = item
            .role
            .as_deref()
            .map(|r| format!(" (role {r})"))
            .unwrap_or_default();
        line(&mut out, "fhirContext", &format!("{target}{role}"));
    }
    line(
        &mut out,
        "refresh_token",
        if token.refresh_token.is_some() {
            "issued"
        } else {
            "none"
        },
    );
    if token.id_token.is_some() {
        line(&mut out, "id_token", "issued");
    }
    for finding in &token.findings {
        line(&mut out, "finding", &finding.to_string());
    }
    if show_secrets {
        line(&mut out, "access_token", flows::expose(&token.access_token));
        if let Some(refresh) = &token.refresh_token {
            line(&mut out, "refresh_token value", flows::expose(refresh));
        }
        if let Some(id_token) = &token.id_token {
            line(&mut out, "id_token value", flows::expose(id_token));
        }
    } else {
        line(&mut out, "access_token", "[hidden; pass --show-token]");
    }
    out
}

/// A registration: the client id and what was registered.
pub fn registration(client: &RegisteredClient, show_secrets: bool) -> String {
    let mut out = String::new();
    line(&mut out, "client_id", &client.client_id);
    line(
        &mut out,
        "token_endpoint_auth_method",
        opt(client.token_endpoint_auth_method.as_deref()),
    );
    line(&mut out, "grant_types", &list(&client.grant_types));
    line(&mut out, "redirect_uris", &list(&client.redirect_uris));
    line(&mut out, "scope", opt(client.scope.as_deref()));
    for (label, secret) in [
        ("client_secret", &client.client_secret),
        (
            "registration_access_token",
            &client.registration_access_token,
        ),
    ] {
        if let Some(secret) = secret {
            let shown = if show_secrets {
                flows::expose(secret)
            } else {
                "[hidden; pass --show-secrets]"
            };
            line(&mut out, label, shown);
        }
    }
    if let Some(uri) = &client.registration_client_uri {
        line(&mut out, "registration_client_uri", uri);
    }
    out
}

/// An introspection answer: active, and for an active token what it grants (identifiers only
/// when the server sent them), then the parser's findings.
pub fn introspection(answer: &Introspection, now: SystemTime) -> String {
    let mut out = String::new();
    line(&mut out, "active", &answer.active.to_string());
    if answer.active {
        line(&mut out, "scope", opt(answer.scope.as_deref()));
        line(&mut out, "client_id", opt(answer.client_id.as_deref()));
        let expiry = match answer.exp {
            Some(exp) if answer.is_active_at(now) => rfc3339_secs(exp),
            Some(exp) => format!("{} (expired)", rfc3339_secs(exp)),
            None => "not stated".to_owned(),
        };
        line(&mut out, "exp", &expiry);
        for (label, value) in [
            ("sub", &answer.sub),
            ("patient", &answer.launch.patient),
            ("fhirUser", &answer.fhir_user),
        ] {
            if let Some(value) = value {
                line(&mut out, label, value);
            }
        }
    }
    for finding in &answer.findings {
        line(&mut out, "finding", &finding.to_string());
    }
    out
}

/// UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(time: SystemTime) -> String {
    rfc3339_secs(
        time.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (any `u64`: a server's `exp` is untrusted; one
/// past the year 9999 is written as seconds since the epoch).
pub fn rfc3339_secs(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} s after 1970-01-01T00:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_827_696); // leap day 2000
        assert_eq!(rfc3339(t), "2000-02-29T12:34:56Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_767_225_599);
        assert_eq!(rfc3339(t), "2025-12-31T23:59:59Z");
        // Absurd server values do not panic.
        assert!(rfc3339_secs(u64::MAX).ends_with("Z"));
    }
}
