//! `GET {base}/Patient/<id>`: a minimal FHIR read endpoint that checks the
//! bearer token (RFC 6750) and its SMART scopes.

use super::*;

/// The built-in patients: `(id, given, family, birthDate)`.
const BUILTIN: [(&str, &str, &str, &str); 3] = [
    ("sandbox-patient-1", "Amy", "Shaw", "1987-02-20"),
    ("sandbox-patient-2", "Daniel", "Adams", "1952-11-03"),
    ("sandbox-patient-3", "Sofia", "Moreno", "2015-06-14"),
];

/// A FHIR R4 Patient with one official name and a birth date.
pub(crate) fn patient_resource(id: &str, given: &str, family: &str, birth_date: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "id": id,
        "active": true,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "birthDate": birth_date,
    })
}

/// The built-in patients by id.
pub(crate) fn builtin_patients() -> HashMap<String, Value> {
    BUILTIN
        .iter()
        .map(|(id, g, f, b)| (id.to_string(), patient_resource(id, g, f, b)))
        .collect()
}

fn outcome(status: u16, code: &str, text: &str) -> Resp {
    Resp {
        status,
        headers: vec![
            ("content-type", "application/fhir+json".into()),
            ("cache-control", "no-store".into()),
        ],
        body: json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        })
        .to_string()
        .into_bytes(),
    }
}

fn bearer_error(status: u16, error: &str, text: &str, extra: &str) -> Resp {
    let mut r = outcome(
        status,
        if status == 403 { "forbidden" } else { "login" },
        text,
    );
    r.headers.push((
        "www-authenticate",
        format!(
            "Bearer realm=\"safire-sandbox\", error=\"{error}\", error_description=\"{text}\"{extra}"
        ),
    ));
    r
}

/// Does `scope` allow reading `Patient/<id>` given the token's patient context?
fn allows_patient_read(scope: &str, id: &str, context_patient: Option<&str>) -> bool {
    let Some(s) = parse_resource_scope(scope) else {
        return false;
    };
    if s.query.is_some() || !(s.resource == "*" || s.resource == "Patient") {
        return false;
    }
    if !v1_to_v2(s.perm).contains('r') {
        return false;
    }
    match s.ctx {
        "patient" => context_patient == Some(id),
        "user" | "system" => true,
        _ => false,
    }
}

impl Shared {
    pub(crate) fn fhir_patient_read(&self, req: &Req) -> Resp {
        let Some(token) = req.header("authorization").and_then(|h| {
            let (scheme, rest) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        }) else {
            // RFC 6750 §3.1: no error code when no credentials were sent.
            let mut r = outcome(401, "login", "a Bearer access token is required");
            r.headers
                .push(("www-authenticate", "Bearer realm=\"safire-sandbox\"".into()));
            return r;
        };
        let id = req.path.trim_start_matches("/Patient/");
        let now = self.now();
        let st = self.state();
        let Some(access) = st.access.get(token) else {
            return bearer_error(401, "invalid_token", "unknown or revoked access token", "");
        };
        let grant = st.grants.get(&access.grant_id);
        if grant.is_none_or(|g| g.revoked) {
            return bearer_error(401, "invalid_token", "access token revoked", "");
        }
        if access.expires_at <= now {
            return bearer_error(401, "invalid_token", "access token expired", "");
        }
        let context_patient = grant.and_then(|g| g.bound.ctx.patient.as_deref());
        if !access
            .scope
            .iter()
            .any(|s| allows_patient_read(s, id, context_patient))
        {
            return bearer_error(
                403,
                "insufficient_scope",
                "the token's scopes do not allow reading this Patient",
                ", scope=\"patient/Patient.rs user/Patient.rs\"",
            );
        }
        match self.cfg.patients.get(id) {
            Some(p) if !id.is_empty() && !id.contains('/') => Resp {
                status: 200,
                headers: vec![
                    ("content-type", "application/fhir+json".into()),
                    ("cache-control", "no-store".into()),
                ],
                body: p.to_string().into_bytes(),
            },
            _ => outcome(404, "not-found", "no such Patient"),
        }
    }
}
