//! The SASL initial client responses that carry a bearer token (pure; base64 is the
//! protocol's job):
//! - XOAUTH2 (Google's and Microsoft's documented format):
//!   `user=<user>^Aauth=Bearer <token>^A^A`;
//! - OAUTHBEARER (RFC 7628 §3.1): `n,a=<user>,^Ahost=<host>^Aport=<port>^Aauth=Bearer
//!   <token>^A^A`, with `,` and `=` in the user escaped as `=2C` and `=3D` (RFC 5801 saslname).

/// Which SASL mechanism carries the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// `XOAUTH2`.
    XOAuth2,
    /// `OAUTHBEARER` (RFC 7628).
    OAuthBearer,
}

impl Mechanism {
    /// The mechanism's name in `AUTHENTICATE` / `AUTH`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism to use given the server's capabilities (`AUTH=…` names, any case):
    /// XOAUTH2 when offered or when neither is, else OAUTHBEARER.
    pub fn choose<'a>(offered: impl IntoIterator<Item = &'a str>) -> Mechanism {
        let offered: Vec<String> = offered
            .into_iter()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        let has = |m: &str| offered.iter().any(|o| o == m);
        if !has("XOAUTH2") && has("OAUTHBEARER") {
            Mechanism::OAuthBearer
        } else {
            Mechanism::XOAuth2
        }
    }
}

/// The XOAUTH2 initial response.
pub fn xoauth2(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

/// The OAUTHBEARER initial response for a server at `host:port`.
pub fn oauthbearer(user: &str, host: &str, port: u16, token: &str) -> String {
    let user = user.replace('=', "=3D").replace(',', "=2C");
    format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoauth2_matches_the_documented_example() {
        // Microsoft's example: test@contoso.onmicrosoft.com with token EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA.
        let s = xoauth2(
            "test@contoso.onmicrosoft.com",
            "EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA",
        );
        use base64::Engine;
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(s),
            "dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFvN0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ=="
        );
    }

    #[test]
    fn oauthbearer_escapes_the_user_and_names_the_server() {
        assert_eq!(
            oauthbearer("a,b=c@example.org", "imap.example.org", 993, "tok"),
            "n,a=a=2Cb=3Dc@example.org,\x01host=imap.example.org\x01port=993\x01auth=Bearer tok\x01\x01"
        );
    }

    #[test]
    fn xoauth2_is_preferred_and_oauthbearer_used_when_alone() {
        assert_eq!(
            Mechanism::choose(["PLAIN", "XOAUTH2", "OAUTHBEARER"]),
            Mechanism::XOAuth2
        );
        assert_eq!(Mechanism::choose(["oauthbearer"]), Mechanism::OAuthBearer);
        assert_eq!(Mechanism::choose([]), Mechanism::XOAuth2);
    }
}
