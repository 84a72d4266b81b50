//! The client over TLS: a broker whose certificate comes from a private CA is trusted only with
//! that CA's bundle, or with insecure-skip-TLS; otherwise the call fails before anything is sent.

mod osb_support;

use std::sync::Arc;

use osb_support::client_config;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use server::osb::{ClientConfig, OsbClient, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A private CA (PEM) and a server certificate for 127.0.0.1 it signed, with the server's key.
fn private_pki() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Quartermaster test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let server_key = KeyPair::generate().expect("key");
    let mut server_params = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    server_params.distinguished_name.push(DnType::CommonName, "broker");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params.signed_by(&server_key, &*ca).expect("server certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    (ca.pem(), server_cert.der().clone(), key)
}

/// A minimal HTTPS broker on loopback that answers every request with an empty catalog.
async fn tls_broker(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> String {
    server::osb::install_crypto_provider();
    let config =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert], key).expect("TLS config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"services": []}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://127.0.0.1:{}", addr.port())
}

#[tokio::test]
async fn a_private_ca_is_trusted_only_when_configured() {
    let (ca_pem, cert, key) = private_pki();
    let url = tls_broker(cert, key).await;

    let trusting = OsbClient::new(ClientConfig { ca_bundle_pem: Some(ca_pem.into_bytes()), ..client_config(&url) })
        .expect("client with CA bundle");
    let reply = trusting.catalog().await;
    assert!(matches!(reply.outcome, Outcome::Done { status: 200, .. }), "{:?}", reply.outcome);

    let plain = OsbClient::new(client_config(&url)).expect("client");
    let reply = plain.catalog().await;
    let Outcome::Unreachable { reason } = &reply.outcome else {
        panic!("untrusted certificate accepted: {:?}", reply.outcome)
    };
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");

    let insecure =
        OsbClient::new(ClientConfig { insecure_skip_tls_verify: true, ..client_config(&url) }).expect("client");
    let reply = insecure.catalog().await;
    assert!(matches!(reply.outcome, Outcome::Done { status: 200, .. }), "{:?}", reply.outcome);
}
