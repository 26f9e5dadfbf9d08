//! The SMART compliance rules of a token response, which differ slightly per grant.

/// The OAuth grant a token request uses: what [`Grant`](crate::Grant) sends as `grant_type`,
/// and which compliance rules its response follows.
///
/// ```
/// use safire_core::GrantType;
/// assert_eq!(GrantType::ClientCredentials.as_str(), "client_credentials");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantType {
    /// `authorization_code`: the code exchange of an EHR or standalone launch.
    AuthorizationCode,
    /// `refresh_token` (same response rules as [`GrantType::AuthorizationCode`]).
    RefreshToken,
    /// `client_credentials`: SMART Backend Services (`expires_in` required, `bearer`
    /// canonical).
    ClientCredentials,
}

impl GrantType {
    /// The `grant_type` value sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

use super::{PREFIX, TokenResponse};
use crate::error::server_text;
use crate::finding::{Finding, Findings};

impl TokenResponse {
    /// Upstream `token_response_valid?` as findings, plus the parse-time
    /// [`findings`](Self::findings). Never fails.
    ///
    /// `access_token` and `scope` are required; `expires_in` too for
    /// [`GrantType::ClientCredentials`]; `token_type` must be present and `Bearer`, compared
    /// case-insensitively (a case variant is a warning, except `bearer` for backend services,
    /// whose specification spells it that way).
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use safire_core::{GrantType, Severity, TokenResponse};
    /// let token = TokenResponse::parse(200, br#"{"access_token":"a","token_type":"bearer","scope":"system/*.rs"}"#, SystemTime::now())?;
    /// let findings = token.compliance_findings(GrantType::ClientCredentials);
    /// assert_eq!(findings[0].message, "SMART token response non-compliance: required field 'expires_in' is missing");
    /// assert_eq!(findings.len(), 1);
    /// let app = token.compliance_findings(GrantType::AuthorizationCode);
    /// assert_eq!(app.len(), 1);
    /// assert_eq!(app[0].severity, Severity::Warning);
    /// # Ok::<(), safire_core::TokenError>(())
    /// ```
    pub fn compliance_findings(&self, grant: GrantType) -> Vec<Finding> {
        let mut out = Findings::default();
        let mut required = vec![
            ("access_token", !self.access_token.is_blank()),
            (
                "scope",
                self.scope.as_deref().is_some_and(|s| !s.trim().is_empty()),
            ),
        ];
        if grant == GrantType::ClientCredentials {
            required.push(("expires_in", self.expires_in.is_some()));
        }
        for (name, present) in required {
            if !present && !self.was_wrong_typed(name) {
                out.error(name, format!("{PREFIX} required field '{name}' is missing"));
            }
        }
        let (canonical, source) = match grant {
            GrantType::ClientCredentials => ("bearer", "SMART App Launch Backend Services"),
            GrantType::AuthorizationCode | GrantType::RefreshToken => {
                ("Bearer", "SMART App Launch spec")
            }
        };
        match self.token_type.as_deref() {
            Some(t) if t.trim().is_empty() => out.error(
                "token_type",
                format!("{PREFIX} required field 'token_type' is missing"),
            ),
            Some(t) if t == "Bearer" || t == canonical => {}
            Some(t) if t.eq_ignore_ascii_case("bearer") => out.warning(
                "token_type",
                format!(
                    "SMART token response: token_type is \"{t}\"; expected '{canonical}' \
                     ({source}; accepted: token types are case-insensitive)"
                ),
            ),
            Some(t) => out.error(
                "token_type",
                format!(
                    "{PREFIX} token_type is \"{}\"; expected '{canonical}' ({source})",
                    server_text(t)
                ),
            ),
            None if self.was_wrong_typed("token_type") => {}
            None => out.error(
                "token_type",
                format!("{PREFIX} required field 'token_type' is missing"),
            ),
        }
        // Parse-time notes, except the token_type case note: the check above replaces it.
        for finding in &self.findings {
            let case_note = finding.field.as_deref() == Some("token_type") && !finding.is_error();
            if !case_note {
                out.push(finding.clone());
            }
        }
        out.into_vec()
    }

    fn was_wrong_typed(&self, field: &str) -> bool {
        self.findings
            .iter()
            .any(|f| f.is_error() && f.field.as_deref() == Some(field))
    }
}
