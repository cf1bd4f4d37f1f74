//! The connection string parser's tests: both forms, the environment, and errors that never
//! show a password.

use super::validate::SSL_MODES;
use super::*;

fn parse(text: &str) -> Result<ConnInfo> {
    ConnInfo::parse_with_env(text, |name| match name {
        "USER" => Some("alice".to_string()),
        _ => None,
    })
}

#[test]
fn url_with_everything() {
    let info = parse("postgresql://bob:s%40cret@db.example:6543/shop?application_name=web&connect_timeout=5").unwrap();
    assert_eq!(
        info.targets,
        vec![Target {
            host: "db.example".into(),
            hostaddr: None,
            port: 6543
        }]
    );
    assert_eq!(info.user, "bob");
    assert_eq!(info.password.as_deref(), Some("s@cret"));
    assert_eq!(info.dbname, "shop");
    assert_eq!(info.application_name.as_deref(), Some("web"));
    assert_eq!(info.connect_timeout, Some(Duration::from_secs(5)));
}

#[test]
fn url_with_several_hosts_and_ipv6() {
    let info = parse("postgres://h1:5433,[::1]:5434,h3/db").unwrap();
    let ports: Vec<u16> = info.targets.iter().map(|t| t.port).collect();
    assert_eq!(ports, vec![5433, 5434, 5432]);
    assert_eq!(info.targets[1].host, "::1");
    assert_eq!(info.targets[1].describe(), "[::1]:5434");
}

#[test]
fn key_values_with_quotes_and_defaults() {
    let info = parse(r"host=127.0.0.1 port = 5544 password='it\'s' options='-c x=1'").unwrap();
    assert_eq!(info.password.as_deref(), Some("it's"));
    assert_eq!(info.options.as_deref(), Some("-c x=1"));
    assert_eq!(info.user, "alice");
    assert_eq!(info.dbname, "alice");
}

#[test]
fn environment_fills_the_gaps() {
    let info = ConnInfo::parse_with_env("dbname=x", |name| match name {
        "PGHOST" => Some("envhost".into()),
        "PGPORT" => Some("7777".into()),
        "PGUSER" => Some("carol".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(
        info.targets,
        vec![Target {
            host: "envhost".into(),
            hostaddr: None,
            port: 7777
        }]
    );
    assert_eq!(info.user, "carol");
    assert_eq!(info.dbname, "x");
}

#[test]
fn errors_name_the_culprit() {
    let err = parse("host=x dbnmae=1").unwrap_err();
    assert_eq!(err.to_string(), "invalid connection option \"dbnmae\"");
    let err = parse("host=x sslcrl=/crl.pem").unwrap_err();
    assert_eq!(err.to_string(), "invalid connection option \"sslcrl\"");
    // Not a keyword nor a near miss of one: named by its place, not quoted.
    let err = parse("host=x bogus=1").unwrap_err();
    assert!(
        err.to_string().starts_with("invalid connection option number 2 "),
        "{err}"
    );
    let err = parse("postgres://h/db?bogus=1").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid connection option in the URI's query "),
        "{err}"
    );
    let err = parse("port=99999").unwrap_err();
    assert_eq!(err.to_string(), "invalid port number: \"99999\"");
    let err = parse("host=x dbname").unwrap_err();
    assert!(err.to_string().contains("\"dbname\""), "{err}");
}

#[test]
fn debug_never_shows_the_password() {
    let info = parse("postgres://u:hunter2@h/d?sslmode=require&options=-c%20x%3D1").unwrap();
    let debug = format!("{info:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("Require") && debug.contains("-c x=1"), "{debug}");
}

#[test]
fn tls_and_session_keys() {
    let info = parse(
        "host=db port=5433 sslmode=verify-full sslrootcert=/ca.pem sslcert=/c.pem sslkey=/c.key sslsni=0 \
         channel_binding=require target_session_attrs=read-write fallback_application_name=tool",
    )
    .unwrap();
    assert_eq!(info.sslmode, SslMode::VerifyFull);
    assert_eq!(
        info.ssl_files,
        SslFiles {
            rootcert: Some("/ca.pem".into()),
            cert: Some("/c.pem".into()),
            key: Some("/c.key".into()),
        }
    );
    assert!(!info.sslsni);
    assert_eq!(info.channel_binding, ChannelBinding::Require);
    assert_eq!(info.target_session_attrs, TargetSessionAttrs::ReadWrite);
    assert_eq!(info.application_name.as_deref(), Some("tool"));
    let defaults = parse("host=db").unwrap();
    assert_eq!(
        (
            defaults.sslmode,
            defaults.sslsni,
            defaults.channel_binding,
            defaults.target_session_attrs
        ),
        (SslMode::Prefer, true, ChannelBinding::Prefer, TargetSessionAttrs::Any)
    );
    assert_eq!(defaults.ssl_files, SslFiles::default());
}

#[test]
fn environment_for_tls_and_hosts() {
    let info = ConnInfo::parse_with_env("host=a,b", |name| {
        let value = match name {
            "PGSSLMODE" => "verify-ca",
            "PGSSLROOTCERT" => "/env-ca.pem",
            "PGSSLCERT" => "/env.crt",
            "PGSSLKEY" => "/env.key",
            "PGCHANNELBINDING" => "disable",
            "PGTARGETSESSIONATTRS" => "prefer-standby",
            "PGCONNECT_TIMEOUT" => "1",
            "PGOPTIONS" => "-c work_mem=64MB",
            "PGAPPNAME" => "env-app",
            "PGPASSWORD" => "from-env",
            _ => return None,
        };
        Some(value.to_string())
    })
    .unwrap();
    assert_eq!(info.sslmode, SslMode::VerifyCa);
    assert_eq!(info.ssl_files.rootcert.as_deref(), Some("/env-ca.pem"));
    assert_eq!(info.ssl_files.cert.as_deref(), Some("/env.crt"));
    assert_eq!(info.ssl_files.key.as_deref(), Some("/env.key"));
    assert_eq!(info.channel_binding, ChannelBinding::Disable);
    assert_eq!(info.target_session_attrs, TargetSessionAttrs::PreferStandby);
    assert_eq!(
        info.connect_timeout,
        Some(Duration::from_secs(2)),
        "libpq raises 1 s to 2 s"
    );
    assert_eq!(info.options.as_deref(), Some("-c work_mem=64MB"));
    assert_eq!(info.application_name.as_deref(), Some("env-app"));
    assert_eq!(info.password.as_deref(), Some("from-env"));
    assert_eq!(info.targets.len(), 2);
}

#[test]
fn sslmode_names_read_back() {
    for (name, mode) in SSL_MODES {
        assert_eq!(mode.as_str(), *name);
        assert_eq!(parse(&format!("sslmode={name}")).unwrap().sslmode, *mode);
    }
}

#[test]
fn sslrootcert_system_means_verify_full() {
    assert_eq!(parse("sslrootcert=system").unwrap().sslmode, SslMode::VerifyFull);
    let err = parse("sslrootcert=system sslmode=verify-ca").unwrap_err();
    assert_eq!(
        err.to_string(),
        "weak sslmode \"verify-ca\" may not be used with sslrootcert=system (use \"verify-full\")"
    );
}

#[test]
fn bad_values_name_key_and_value() {
    let cases = [
        ("sslmode=on", "invalid sslmode value: \"on\""),
        (
            "target_session_attrs=primary-ish",
            "invalid target_session_attrs value: \"primary-ish\"",
        ),
        ("channel_binding=yes", "invalid channel_binding value: \"yes\""),
        ("sslsni=true", "invalid sslsni value: \"true\""),
        (
            "load_balance_hosts=roundrobin",
            "invalid load_balance_hosts value: \"roundrobin\" (expected one of: disable, random)",
        ),
    ];
    for (text, start) in cases {
        let err = parse(text).unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        assert!(err.to_string().starts_with(start), "{err}");
    }
}

#[test]
fn load_balance_hosts_from_string_and_environment() {
    assert_eq!(parse("host=a,b").unwrap().load_balance_hosts, LoadBalanceHosts::Disable);
    let url = parse("postgres://a,b/db?load_balance_hosts=random").unwrap();
    assert_eq!(url.load_balance_hosts, LoadBalanceHosts::Random);
    let env = ConnInfo::parse_with_env("host=a,b", |name| {
        (name == "PGLOADBALANCEHOSTS").then(|| "random".to_string())
    })
    .unwrap();
    assert_eq!(env.load_balance_hosts, LoadBalanceHosts::Random);
    let string_wins = ConnInfo::parse_with_env("host=a,b load_balance_hosts=disable", |name| {
        (name == "PGLOADBALANCEHOSTS").then(|| "random".to_string())
    })
    .unwrap();
    assert_eq!(string_wins.load_balance_hosts, LoadBalanceHosts::Disable);
}

#[test]
fn url_passwords_with_special_characters() {
    let info = parse("postgres://u:p?a:s@s@h:5433/db?sslmode=disable").unwrap();
    assert_eq!(info.password.as_deref(), Some("p?a:s@s"));
    assert_eq!(info.targets[0].host, "h");
    assert_eq!(info.sslmode, SslMode::Disable);
}

#[test]
fn malformed_strings_never_echo_what_may_be_a_password() {
    for text in [
        "password=two secret-words",
        "password=two secret-words=x",
        "postgres://u:two/secret-words@h/db",
    ] {
        let err = parse(text).unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        assert!(!err.to_string().contains("secret"), "{text}: {err}");
    }
}

#[test]
fn wrong_schemes_say_so() {
    for (text, scheme) in [
        ("postgress://u:pw@h/db", "postgress"),
        ("postgre://u:pw@h/db", "postgre"),
        ("pg://u:pw@h/db", "pg"),
        ("http://h", "http"),
    ] {
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.contains(&format!("the scheme \"{scheme}\" is not postgres:// or postgresql://")),
            "{text}: {err}"
        );
    }
    let err = parse("POSTGRES://u:pw@h/db").unwrap_err().to_string();
    assert!(err.contains("lower case"), "{err}");
    let err = parse("postgres:/u:pw@h/db").unwrap_err().to_string();
    assert!(err.contains("does not start with postgres://"), "{err}");
}

/// Every malformed string holding a password: the error never shows it, nor any piece of it
/// longer than a few characters.
#[test]
fn no_error_ever_shows_the_password() {
    const SECRET: &str = "Zq7secretXw";
    let templates = [
        // Wrong or broken schemes: read as key=value text, the whole string was quoted.
        "postgress://u:{}@h/db",
        "postgre://u:{}@h/db",
        "pg://u:{}@h/db",
        "POSTGRES://u:{}@h/db",
        "Postgresql://u:{}@h/db",
        "postgres:/u:{}@h/db",
        "postgres:u:{}@h/db",
        "postgres//u:{}@h/db",
        "://u:{}@h/db",
        "u:{}@h/db",
        " postgresql:// u:{}@h",
        "jdbc:postgresql://h/db?user=u&password={}",
        // The password as a key, or where a key or value is expected.
        "{}",
        "{}=1",
        "host=h {}",
        "host=h {}=x",
        "host=h '{}'",
        "host=h {}='unterminated",
        "password {}",
        "password={} {}",
        "password={} more words",
        "password='{}",
        "password={}' x",
        "port={}",
        // The rest of a password broken by a space. (A value the string gives its own key,
        // `sslmode=sometimes`, is quoted when shaped like a setting.)
        "password=x {}",
        "host=postgres://u:{}@h/db",
        "dbname=postgresql://u:{}@h/db",
        "host=u:{}@h",
        // URIs whose password is malformed or misplaced.
        "postgres://u:{}",
        "postgres://u:{}/db",
        "postgres://u:pa/{}@h/db",
        "postgres://u:pa/ss?{}@h",
        "postgres://u:pa/ss?{}=1@h",
        "postgres://u:12/34?application_name={}@h",
        "postgres://[u:{}@",
        "postgres://[u:{}/db",
        "postgres://u:{}%zz@h/db",
        "postgres://u:{}%ff@h/db",
        "postgres://h/db?{}",
        "postgres://h/db?{}=x",
        "postgres://h/db?port={}",
        "postgres://h/db?{}=%zz",
        "postgres://u:{}@h:port/db",
        "postgres://u:{}@[::1/db",
        "postgres://u:{}@h/db?x",
        "postgres://u:{}@h/db?sslmode=on",
        "postgres://u:{}@h/db?connect_timeout=soon",
    ];
    for template in templates {
        let text = template.replace("{}", SECRET);
        // A few parse (the secret is then a password or a user name): their Debug is checked.
        let shown = match parse(&text) {
            Ok(info) => format!(
                "{:?}",
                ConnInfo {
                    user: String::new(),
                    ..info
                }
            ),
            Err(err) => format!("{err} {err:?}"),
        };
        for piece in [SECRET, "Zq7sec", "secret", "cretXw"] {
            assert!(!shown.contains(piece), "{text}: {shown}");
        }
    }
}

#[test]
fn keepalive_keys_are_read_as_libpq_reads_them() {
    let info =
        parse("host=h keepalives=1 keepalives_idle=7 keepalives_interval=2 keepalives_count=4 tcp_user_timeout=1500")
            .unwrap();
    assert_eq!(
        info.tcp,
        TcpSettings {
            keepalives: true,
            keepalives_idle: Some(Duration::from_secs(7)),
            keepalives_interval: Some(Duration::from_secs(2)),
            keepalives_count: Some(4),
            user_timeout: Some(Duration::from_millis(1500)),
        }
    );
    assert_eq!(parse("postgres://h/db").unwrap().tcp, TcpSettings::default());
    assert!(!parse("postgres://h/db?keepalives=0").unwrap().tcp.keepalives);
    // Zero means the system's value, as in libpq.
    let zero = parse("postgres://h/db?keepalives_idle=0&tcp_user_timeout=0")
        .unwrap()
        .tcp;
    assert_eq!((zero.keepalives_idle, zero.user_timeout), (None, None));
    let err = parse("host=h keepalives_count=many").unwrap_err().to_string();
    assert!(err.contains("\"many\"") && err.contains("keepalives_count"), "{err}");
}

#[test]
fn pool_defaults_fill_only_what_the_conninfo_leaves_out() {
    let mut tcp = parse("host=h keepalives_idle=5").unwrap().tcp;
    tcp.fill_pool_defaults();
    assert_eq!(tcp.keepalives_idle, Some(Duration::from_secs(5)));
    assert_eq!(tcp.keepalives_interval, Some(Duration::from_secs(10)));
    assert_eq!(tcp.keepalives_count, Some(3));
    assert_eq!(tcp.user_timeout, Some(Duration::from_secs(60)));
}

#[test]
fn hostaddr_is_the_address_and_host_the_name() {
    let info = parse("host=db.example hostaddr=127.0.0.1 port=6000").unwrap();
    let target = &info.targets[0];
    assert_eq!(target.host, "db.example");
    assert_eq!(target.hostaddr, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(target.connect_host(), "127.0.0.1");
    assert_eq!(target.server_name(), "db.example");
    assert!(!target.is_unix_socket());
    assert_eq!(target.describe(), "db.example:6000 (address 127.0.0.1)");
    // Only an address: it is also the name TLS checks.
    let only = parse("hostaddr=::1").unwrap();
    assert_eq!(only.targets[0].server_name(), "::1");
    assert_eq!(only.targets[0].describe(), "[::1]:5432");
    // Lists pair up by position; an empty address leaves its entry to the host name.
    let pairs = parse("host=a,b hostaddr=10.0.0.1, port=1,2").unwrap();
    assert_eq!(pairs.targets[0].connect_host(), "10.0.0.1");
    assert_eq!(pairs.targets[1].connect_host(), "b");
    // The environment's PGHOSTADDR, as libpq reads it.
    let env = ConnInfo::parse_with_env("host=n", |name| (name == "PGHOSTADDR").then(|| "10.1.2.3".into())).unwrap();
    assert_eq!(env.targets[0].connect_host(), "10.1.2.3");
}

#[test]
fn hostaddr_errors_name_the_key() {
    let err = parse("hostaddr=db.example").unwrap_err().to_string();
    assert!(err.contains("hostaddr"), "{err}");
    let err = parse("hostaddr=10.0.0.300").unwrap_err().to_string();
    assert!(err.contains("\"10.0.0.300\""), "{err}");
    let err = parse("host=a,b hostaddr=10.0.0.1").unwrap_err().to_string();
    assert_eq!(err, "could not match 2 host names to 1 hostaddr values");
    let err = parse("hostaddr=Zq7secretXw").unwrap_err().to_string();
    assert!(!err.contains("secret"), "{err}");
}

#[test]
fn the_default_host_is_found_when_connecting_not_when_parsing() {
    let info = parse("port=5999").unwrap();
    assert_eq!(info.targets[0].host, "", "parsing looks at no file");
    let resolved = info.targets[0].resolved();
    let socket = std::path::Path::new(&resolved.host).join(".s.PGSQL.5999");
    assert!(resolved.host == "localhost" || socket.exists(), "{resolved:?}");
    // A target with a host or an address is left as it is.
    let given = parse("hostaddr=127.0.0.1").unwrap().targets[0].clone();
    assert_eq!(given.resolved(), given);
}
