//! Interactive mode ([`crate::SandboxBuilder::interactive`]): server-rendered
//! HTML, no JavaScript. A login page, a patient picker (standalone launches
//! asking for `launch/patient`), a consent page (approve / deny), and an EHR
//! launcher page. Each step is a form POST to `{base}/interact` carrying
//! the pending request's unguessable id.

use super::*;

/// How long a pending interactive authorization may take.
pub(crate) const PENDING_LIFETIME: u64 = 600;

/// The sandbox's users: (username, password, display name).
const USERS: [(&str, &str, &str); 2] = [
    ("clinician", "sandbox", "Dr. Sandbox Clinician"),
    ("amy", "sandbox", "Amy Shaw (patient)"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Login,
    Patient,
    Consent,
}

/// An authorization request waiting for the user.
#[derive(Clone, Debug)]
pub(crate) struct PendingAuth {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) challenge: String,
    pub(crate) scope: Vec<String>,
    pub(crate) bound: Bound,
    pub(crate) state: Option<String>,
    pub(crate) stage: Stage,
    pub(crate) ehr: bool,
    pub(crate) expires_at: u64,
}

/// HTML-escape text for element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn html(status: u16, title: &str, body: &str) -> Resp {
    let doc = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t} · safire-sandbox</title>\
         <style>body{{font-family:sans-serif;max-width:40em;margin:2em auto}}\
         .error{{color:#9e2d2d}} label{{display:block;margin:.4em 0}}</style></head>\
         <body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = esc(title)
    );
    Resp {
        status,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".into()),
            ("cache-control", "no-store".into()),
            ("x-frame-options", "DENY".into()),
            (
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; form-action *".into(),
            ),
        ],
        body: doc.into_bytes(),
    }
}

fn hidden(pending: &str, step: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"pending\" value=\"{}\">\
         <input type=\"hidden\" name=\"step\" value=\"{}\">",
        esc(pending),
        esc(step)
    )
}

impl Shared {
    fn interact_url(&self) -> String {
        self.cfg.url(Endpoint::Interact)
    }

    /// Store `p` and answer with the login page.
    pub(crate) fn begin_interaction(&self, p: PendingAuth) -> Result<Resp, OAuthError> {
        let id = random_token(24)?;
        let now = self.now();
        let page = self.login_page(&id, &p, None);
        let mut st = self.state();
        st.pending.retain(|_, x| x.expires_at > now);
        st.pending.insert(id, p);
        Ok(page)
    }

    fn login_page(&self, id: &str, p: &PendingAuth, error: Option<&str>) -> Resp {
        let error = error
            .map(|e| format!("<p class=\"error\">{}</p>", esc(e)))
            .unwrap_or_default();
        let body = format!(
            "<p>The app <code>{client}</code> asks to sign you in.</p>{error}\
             <form method=\"post\" action=\"{action}\">{hidden}\
             <label>Username <input name=\"username\" autocomplete=\"username\"></label>\
             <label>Password <input name=\"password\" type=\"password\"></label>\
             <button type=\"submit\">Sign in</button></form>\
             <p><small>Users: <code>clinician</code> / <code>sandbox</code>, \
             <code>amy</code> / <code>sandbox</code> (a patient).</small></p>",
            client = esc(&p.client_id),
            action = esc(&self.interact_url()),
            hidden = hidden(id, "login"),
        );
        html(200, "Sign in", &body)
    }

    fn patient_page(&self, id: &str) -> Resp {
        let mut patients: Vec<(&String, &Value)> = self.cfg.patients.iter().collect();
        patients.sort_by(|a, b| a.0.cmp(b.0));
        let mut options = String::new();
        for (i, (pid, res)) in patients.iter().enumerate() {
            let name = res["name"][0]["given"][0].as_str().unwrap_or("");
            let family = res["name"][0]["family"].as_str().unwrap_or("");
            let birth = res["birthDate"].as_str().unwrap_or("");
            options.push_str(&format!(
                "<label><input type=\"radio\" name=\"patient\" value=\"{v}\"{checked}> \
                 {name} {family} ({birth}) <code>{v}</code></label>",
                v = esc(pid),
                checked = if i == 0 { " checked" } else { "" },
                name = esc(name),
                family = esc(family),
                birth = esc(birth),
            ));
        }
        let body = format!(
            "<form method=\"post\" action=\"{}\">{}{options}\
             <button type=\"submit\">Continue</button></form>",
            esc(&self.interact_url()),
            hidden(id, "patient"),
        );
        html(200, "Select a patient", &body)
    }

    fn consent_page(&self, id: &str, p: &PendingAuth) -> Resp {
        let scopes: String = p
            .scope
            .iter()
            .map(|s| format!("<li><code>{}</code></li>", esc(s)))
            .collect();
        let patient = p
            .bound
            .ctx
            .patient
            .as_deref()
            .map(|pt| format!("<p>Patient: <code>{}</code></p>", esc(pt)))
            .unwrap_or_default();
        let body = format!(
            "<p>The app <code>{client}</code> asks for:</p><ul>{scopes}</ul>{patient}\
             <form method=\"post\" action=\"{action}\">{hidden}\
             <button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button> \
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            client = esc(&p.client_id),
            action = esc(&self.interact_url()),
            hidden = hidden(id, "consent"),
        );
        html(200, "Authorize the app", &body)
    }

    /// `POST {base}/interact`: one step of the interactive authorization.
    pub(crate) fn interact(&self, req: &Req) -> Resp {
        let bad = |m: &str| {
            html(
                400,
                "Request refused",
                &format!("<p class=\"error\">{}</p>", esc(m)),
            )
        };
        if !req.has_content_type("application/x-www-form-urlencoded") {
            return bad("form posts only");
        }
        let params = Params::parse(&req.body);
        if params.reject_duplicates().is_err() {
            return bad("malformed form");
        }
        let (Some(id), Some(step)) = (params.get("pending"), params.get("step")) else {
            return bad("missing pending request");
        };
        let now = self.now();
        let pending = {
            let st = self.state();
            st.pending.get(id).cloned()
        };
        let Some(mut p) = pending.filter(|p| p.expires_at > now) else {
            return bad("unknown, used or expired authorization request");
        };
        let expected = match p.stage {
            Stage::Login => "login",
            Stage::Patient => "patient",
            Stage::Consent => "consent",
        };
        if step != expected {
            return bad("out-of-order step");
        }
        match p.stage {
            Stage::Login => {
                let user = params.get("username").unwrap_or_default();
                let pass = params.get("password").unwrap_or_default();
                let ok = USERS.iter().any(|(u, pw, _)| {
                    ct_eq(u.as_bytes(), user.as_bytes()) && ct_eq(pw.as_bytes(), pass.as_bytes())
                });
                if !ok {
                    return self.login_page(id, &p, Some("Unknown user or wrong password."));
                }
                let wants_patient = p.scope.iter().any(|s| s == "launch/patient");
                if user == "amy" {
                    p.bound.ctx.fhir_user = Some("Patient/sandbox-patient-1".into());
                    if wants_patient && !p.ehr {
                        p.bound.ctx.patient = Some("sandbox-patient-1".into());
                    }
                    p.stage = Stage::Consent;
                } else if wants_patient && !p.ehr {
                    p.stage = Stage::Patient;
                } else {
                    p.stage = Stage::Consent;
                }
            }
            Stage::Patient => {
                let Some(pt) = params
                    .get("patient")
                    .filter(|pt| self.cfg.patients.contains_key(*pt))
                else {
                    return self.patient_page(id);
                };
                p.bound.ctx.patient = Some(pt.to_string());
                p.stage = Stage::Consent;
            }
            Stage::Consent => {
                self.state().pending.remove(id);
                let result = match params.get("decision") {
                    Some("approve") if !self.deny.load(Ordering::SeqCst) => self.mint_code(
                        &p.client_id,
                        &p.redirect_uri,
                        &p.challenge,
                        p.scope.clone(),
                        p.bound.clone(),
                    ),
                    _ => Err(err("access_denied", "the user denied the request")),
                };
                return self.redirect_result(&p.redirect_uri, result, p.state.as_deref());
            }
        }
        let page = match p.stage {
            Stage::Patient => self.patient_page(id),
            _ => self.consent_page(id, &p),
        };
        self.state().pending.insert(id.to_string(), p);
        page
    }

    /// `GET {base}/launcher`: an EHR launcher page listing the registered
    /// app clients; it submits to `{base}/launch`.
    pub(crate) fn launcher_page(&self) -> Resp {
        let mut apps: Vec<String> = self
            .state()
            .clients
            .values()
            .filter(|c| c.allows("authorization_code"))
            .map(|c| c.client_id.clone())
            .collect();
        apps.sort();
        let mut patients: Vec<&String> = self.cfg.patients.keys().collect();
        patients.sort();
        let app_options: String = apps
            .iter()
            .map(|a| format!("<option value=\"{0}\">{0}</option>", esc(a)))
            .collect();
        let patient_options: String = patients
            .iter()
            .map(|p| format!("<option value=\"{0}\">{0}</option>", esc(p)))
            .collect();
        let body = format!(
            "<p>Open a registered app with <code>iss</code> and a fresh <code>launch</code>.</p>\
             <form method=\"get\" action=\"{action}\">\
             <label>App <select name=\"client_id\">{app_options}</select></label>\
             <label>App launch URL <input name=\"launch_uri\" size=\"50\" \
             value=\"http://127.0.0.1:8080/launch\"></label>\
             <label>Patient <select name=\"patient\">{patient_options}</select></label>\
             <button type=\"submit\">Launch</button></form>",
            action = esc(&self.cfg.url(Endpoint::Launch)),
        );
        html(200, "EHR launcher", &body)
    }
}
