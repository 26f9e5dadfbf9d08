//! Tiny dependency-free HTTP/1.1 client and helpers for the sandbox tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use base64ct::{Base64UrlUnpadded, Encoding};
use p384::pkcs8::DecodePrivateKey;
use serde_json::Value;
use sha2::{Digest, Sha256};
use signature::Signer;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug)]
pub struct HttpResp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
    /// The `error` of an OAuth JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or("<none>")
            .to_string()
    }
    /// Query parameters of the `Location` header.
    pub fn location_params(&self) -> Vec<(String, String)> {
        let loc = self.header("location").expect("no Location header");
        let url = url::Url::parse(loc).expect("Location is not a URL");
        url.query_pairs()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
    pub fn location_param(&self, name: &str) -> Option<String> {
        self.location_params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// One HTTP/1.1 request with `Connection: close`; reads to EOF.
pub fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResp {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header/body split");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    HttpResp {
        status,
        headers,
        body: body.to_string(),
    }
}

/// Path (and query) part of an absolute URL.
pub fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).expect("url");
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

pub fn get(addr: SocketAddr, url: &str) -> HttpResp {
    http(addr, "GET", &path_of(url), &[], b"")
}

pub fn post_form(
    addr: SocketAddr,
    url: &str,
    pairs: &[(&str, &str)],
    auth: Option<&str>,
) -> HttpResp {
    let body = form(pairs);
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    http(addr, "POST", &path_of(url), &headers, body.as_bytes())
}

/// `Authorization: Basic` with RFC 6749 §2.3.1 form-encoding of id and secret.
pub fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    basic_raw(&enc(id), &enc(secret))
}

/// `Authorization: Basic` of `id:secret` exactly as given (no form-encoding).
pub fn basic_raw(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64ct::Base64::encode_string(format!("{id}:{secret}").as_bytes())
    )
}

/// PKCE by hand: 43-char verifier, S256 challenge.
pub fn pkce(seed: &str) -> (String, String) {
    let verifier = Base64UrlUnpadded::encode_string(&Sha256::digest(seed.as_bytes()));
    let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn b64url_json(v: &Value) -> String {
    Base64UrlUnpadded::encode_string(v.to_string().as_bytes())
}

/// Sign a compact JWS with an ES384 PKCS#8 PEM key.
pub fn sign_es384(pem: &str, header: &Value, claims: &Value) -> String {
    let sk = p384::ecdsa::SigningKey::from_pkcs8_pem(pem).expect("pem");
    let input = format!("{}.{}", b64url_json(header), b64url_json(claims));
    let sig: p384::ecdsa::Signature = sk.sign(input.as_bytes());
    format!(
        "{input}.{}",
        Base64UrlUnpadded::encode_string(&sig.to_bytes())
    )
}

pub mod flow;
