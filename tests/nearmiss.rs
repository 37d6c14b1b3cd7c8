//! Near misses: the keys and values a user meant but Windows ignores are
//! named, with the line; legitimate keys never are.

mod common;

use common::{findings, tlsreg, utf16};
use tlsreg::input::{Options, from_bytes};
use tlsreg::schannel::Policy;

const SCH: &str = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL";

fn audit(text: &str) -> tlsreg::Audit {
    let loaded = from_bytes("t.reg", &utf16(text), &Options::default()).expect("reads");
    tlsreg::audit(loaded, &Policy::article())
}

/// (code, line) of every near-miss finding.
fn misses(a: &tlsreg::Audit) -> Vec<(&'static str, u32)> {
    a.findings()
        .iter()
        .filter(|f| {
            matches!(
                f.code,
                "near-miss-key" | "near-miss-value" | "wrong-location"
            )
        })
        .map(|f| (f.code, f.origin.map_or(0, |o| o.line)))
        .collect()
}

fn export(keys: &[(String, Vec<String>)]) -> String {
    let mut s = String::from("Windows Registry Editor Version 5.00\r\n");
    for (k, values) in keys {
        s.push_str(&format!("\r\n[{k}]\r\n"));
        for v in values {
            s.push_str(v);
            s.push_str("\r\n");
        }
    }
    s
}

/// A whole-SCHANNEL export as IIS Crypto leaves it, in two control sets and
/// the live set, with the .NET keys and unrelated keys around it.
fn big_export() -> String {
    let mut keys = Vec::new();
    let protocols = [
        "Multi-Protocol Unified Hello",
        "PCT 1.0",
        "SSL 2.0",
        "SSL 3.0",
        "TLS 1.0",
        "TLS 1.1",
        "TLS 1.2",
        "TLS 1.3",
        "DTLS 1.0",
        "DTLS 1.2",
        "DTLS 1.3",
    ];
    let ciphers = [
        "AES 128/128",
        "AES 256/256",
        "DES 56/56",
        "NULL",
        "RC2 128/128",
        "RC2 40/128",
        "RC2 56/128",
        "RC4 128/128",
        "RC4 40/128",
        "RC4 56/128",
        "RC4 64/128",
        "Triple DES 168",
        "Triple DES 168/168",
    ];
    let hashes = ["MD5", "SHA", "SHA256", "SHA384", "SHA512"];
    let kex = ["Diffie-Hellman", "ECDH", "PKCS"];
    for set in [
        "ControlSet001",
        "ControlSet002",
        "ControlSet003",
        "CurrentControlSet",
    ] {
        let sch = SCH.replace("CurrentControlSet", set);
        keys.push((
            sch.clone(),
            vec!["\"EventLogging\"=dword:00000001".to_owned()],
        ));
        for c in ciphers {
            keys.push((
                format!("{sch}\\Ciphers\\{c}"),
                vec!["\"Enabled\"=dword:00000000".into()],
            ));
        }
        keys.push((format!("{sch}\\CipherSuites"), vec![]));
        for h in hashes {
            keys.push((
                format!("{sch}\\Hashes\\{h}"),
                vec!["\"Enabled\"=dword:ffffffff".into()],
            ));
        }
        for k in kex {
            keys.push((
                format!("{sch}\\KeyExchangeAlgorithms\\{k}"),
                vec![
                    "\"Enabled\"=dword:ffffffff".into(),
                    "\"ServerMinKeyBitLength\"=dword:00000800".into(),
                ],
            ));
        }
        for p in protocols {
            keys.push((format!("{sch}\\Protocols\\{p}"), vec![]));
            for side in ["Client", "Server"] {
                let on = p == "TLS 1.2" || p == "TLS 1.3";
                keys.push((
                    format!("{sch}\\Protocols\\{p}\\{side}"),
                    vec![
                        format!("\"DisabledByDefault\"=dword:0000000{}", u8::from(!on)),
                        format!("\"Enabled\"=dword:0000000{}", u8::from(on)),
                    ],
                ));
            }
        }
        let ctl = sch.replace(r"\SecurityProviders\SCHANNEL", "");
        keys.push((
            format!("{ctl}\\Lsa"),
            vec!["\"LmCompatibilityLevel\"=dword:00000005".into()],
        ));
        keys.push((
            format!("{ctl}\\SecurityProviders\\WDigest"),
            vec!["\"UseLogonCredential\"=dword:00000000".into()],
        ));
        keys.push((
            format!("{ctl}\\Cryptography\\Configuration\\Local\\SSL\\00010002"),
            vec![],
        ));
    }
    keys.push((
        r"HKEY_LOCAL_MACHINE\SYSTEM\Select".into(),
        vec![
            "\"Current\"=dword:00000001".into(),
            "\"LastKnownGood\"=dword:00000002".into(),
        ],
    ));
    for net in [
        r"SOFTWARE\Microsoft\.NETFramework",
        r"SOFTWARE\Wow6432Node\Microsoft\.NETFramework",
    ] {
        for v in ["v2.0.50727", "v4.0.30319"] {
            keys.push((
                format!("HKEY_LOCAL_MACHINE\\{net}\\{v}"),
                vec![
                    "\"SchUseStrongCrypto\"=dword:00000001".into(),
                    "\"SystemDefaultTlsVersions\"=dword:00000001".into(),
                ],
            ));
        }
    }
    keys.push((
        r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Cryptography\Configuration\SSL\00010002".into(),
        vec!["\"Functions\"=\"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\"".into()],
    ));
    export(&keys)
}

#[test]
fn no_false_alarms_on_a_large_export() {
    let text = big_export();
    assert!(text.lines().filter(|l| l.starts_with('[')).count() > 200);
    let a = audit(&text);
    assert!(a.compliant());
    assert_eq!(misses(&a), []);
    for sample in [
        "compliant.reg",
        "enabled-ffffffff.reg",
        "translated/en-US.reg",
        "matrix.reg",
    ] {
        let path = format!("samples/{sample}");
        let run = tlsreg(&["audit", "--format", "json", &path]);
        assert_eq!(run.code, 0, "{sample}");
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let codes: Vec<&str> = findings(&doc)
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert!(
            !codes
                .iter()
                .any(|c| c.starts_with("near-miss") || *c == "wrong-location"),
            "{sample}: {codes:?}"
        );
    }
}

#[test]
fn names_case_only_differences_as_the_same_key() {
    let a = audit(&export(&[
        (
            format!("{}\\protocols\\tls 1.2\\CLIENT", SCH.to_lowercase()),
            vec![
                "\"enabled\"=dword:1".into(),
                "\"DISABLEDBYDEFAULT\"=dword:0".into(),
            ],
        ),
        (
            format!("{SCH}\\Protocols\\TLS 1.2\\server"),
            vec![
                "\"Enabled\"=dword:1".into(),
                "\"DisabledByDefault\"=dword:0".into(),
            ],
        ),
    ]));
    assert!(a.compliant());
    assert_eq!(misses(&a), []);
}

#[test]
fn typos_and_spacing_in_keys_and_values() {
    let a = audit(&export(&[
        (
            format!("{SCH}\\Protocol\\TLS 1.2\\Client"),
            vec!["\"Enabled\"=dword:1".into()],
        ),
        (
            format!("{SCH}\\Protocols\\TLS1.2\\Server"),
            vec!["\"Enabled\"=dword:1".into()],
        ),
        (format!("{SCH}\\Protocols\\TLS 1.2\\Clinet"), vec![]),
        (
            format!("{SCH}\\Protocols\\TLS 1.2\\Client"),
            vec![
                "\"Enable\"=dword:1".into(),
                "\"DisabledByDefualt\"=dword:0".into(),
                "\"Disable By Default\"=dword:0".into(),
            ],
        ),
    ]));
    assert_eq!(
        misses(&a),
        [
            ("near-miss-key", 3),
            ("near-miss-key", 6),
            ("near-miss-key", 9),
            ("near-miss-value", 12),
            ("near-miss-value", 13),
            ("near-miss-value", 14),
        ]
    );
    let messages: Vec<String> = a.findings().into_iter().map(|f| f.message).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`Protocol` is a misspelling of `Protocols`")),
        "{messages:#?}"
    );
}

#[test]
fn wrong_locations() {
    let a = audit(&export(&[
        (format!("{SCH}\\Protocols\\TLS 1.2"), vec!["\"Enabled\"=dword:1".into(), "\"DisabledByDefault\"=dword:0".into()]),
        (format!("{SCH}\\Ciphers\\TLS 1.2\\Client"), vec!["\"Enabled\"=dword:1".into()]),
        (SCH.replace("HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER") + "\\Protocols\\TLS 1.2\\Server", vec!["\"Enabled\"=dword:1".into()]),
        (
            r"HKEY_LOCAL_MACHINE\SOFTWARE\Wow6432Node\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2\Client".into(),
            vec!["\"Enabled\"=dword:1".into()],
        ),
    ]));
    assert_eq!(
        misses(&a),
        [
            ("wrong-location", 4),
            ("wrong-location", 5),
            ("wrong-location", 7),
            ("wrong-location", 10),
            ("wrong-location", 13)
        ]
    );
}

#[test]
fn a_part_on_the_way_replaced_whole_is_named() {
    // A translated `SecurityProviders`, and one under `Services` instead of
    // `Control`: SCHANNEL and the protocol key below make the meaning plain.
    let ccs = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet";
    let text = export(&[
        (
            format!(r"{ccs}\Control\Sicherheitsanbieter\SCHANNEL\Protocols\TLS 1.2\Client"),
            vec!["\"Enabled\"=dword:1".into()],
        ),
        (
            format!(r"{ccs}\Services\SecurityProviders\SCHANNEL\Protocols\TLS 1.2\Server"),
            vec!["\"Enabled\"=dword:1".into()],
        ),
        // Two parts replaced is no longer plainly the same path.
        (
            format!(r"{ccs}\Services\Anbieter\SCHANNEL\Protocols\TLS 1.2\Server"),
            vec!["\"Enabled\"=dword:1".into()],
        ),
    ]);
    let a = audit(&text);
    assert_eq!(misses(&a), [("near-miss-key", 3), ("near-miss-key", 6)]);
    let messages: Vec<String> = a.findings().into_iter().map(|f| f.message).collect();
    assert!(
        messages
            .iter()
            .any(|m| m
                .contains("`Sicherheitsanbieter` stands where Windows needs `SecurityProviders`")),
        "{messages:#?}"
    );
    // The fix deletes from SCHANNEL down, never the real `Services` key.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.reg");
    std::fs::write(&input, utf16(&text)).unwrap();
    let fix = tlsreg(&[
        "fix",
        "--remove-near-misses",
        "--encoding",
        "utf8",
        input.to_str().unwrap(),
    ])
    .out();
    let deleted: Vec<&str> = fix.lines().filter(|l| l.starts_with("[-")).collect();
    assert_eq!(
        deleted,
        [
            r"[-HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Sicherheitsanbieter\SCHANNEL]",
            r"[-HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\SecurityProviders\SCHANNEL]",
        ],
        "{fix}"
    );
}

#[test]
fn the_fix_removes_near_misses_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    for lang in [
        "zh-TW", "uk-UA", "vi-VN", "he-IL", "de-DE", "fr-FR", "es-ES", "ru-RU", "ja-JP",
    ] {
        let sample = format!(
            "{}/samples/translated/{lang}.reg",
            env!("CARGO_MANIFEST_DIR")
        );
        let plain = tlsreg(&["fix", "--encoding", "utf8", &sample]).out();
        assert!(!plain.contains("[-"), "{lang}: deletions only on request");
        let fix = dir.path().join(format!("{lang}.fix.reg"));
        let run = tlsreg(&[
            "fix",
            "--remove-near-misses",
            &sample,
            "-o",
            fix.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let run = tlsreg(&[
            "audit",
            "--format",
            "json",
            "--apply",
            fix.to_str().unwrap(),
            &sample,
        ]);
        assert_eq!(run.code, 0, "{lang}");
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let left: Vec<&serde_json::Value> = findings(&doc)
            .iter()
            .filter(|f| f["code"].as_str().unwrap().starts_with("near-miss"))
            .collect();
        assert!(left.is_empty(), "{lang}: {left:?}");
    }
}

/// (code, line) of every finding about what the user meant.
fn meant(path: &str) -> (i32, Vec<(String, u64)>) {
    let run = tlsreg(&["audit", "--format", "json", "--apply", path]);
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let list = findings(&doc)
        .iter()
        .filter(|f| {
            matches!(
                f["code"].as_str().unwrap(),
                "near-miss-key"
                    | "near-miss-value"
                    | "wrong-location"
                    | "skipped-line"
                    | "skipped-value"
            )
        })
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["location"]["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    (run.code, list)
}

#[test]
fn each_language_as_pasted_names_every_mistake_with_its_line() {
    let expect: [(&str, &[(&str, u64)]); 10] = [
        // 用戶端 / 伺服器 for Client / Server; full-width colons in `dword： 0`.
        (
            "zh-TW",
            &[
                ("skipped-line", 6),
                ("skipped-line", 7),
                ("skipped-line", 10),
                ("skipped-line", 11),
                ("near-miss-key", 5),
                ("near-miss-key", 9),
            ],
        ),
        // TLS 1,2; клієнт; Disablebydefault; увімкнено; `DWORD: 0`.
        (
            "uk-UA",
            &[
                ("skipped-line", 6),
                ("skipped-line", 7),
                ("skipped-line", 10),
                ("skipped-line", 11),
                ("near-miss-key", 3),
                ("near-miss-key", 5),
                ("near-miss-value", 6),
                ("near-miss-value", 7),
                ("near-miss-key", 9),
                ("near-miss-value", 10),
                ("near-miss-value", 11),
            ],
        ),
        // TLS 1,2; máy khách / máy chủ; bật; `DWORD: 0`.
        (
            "vi-VN",
            &[
                ("skipped-line", 6),
                ("skipped-line", 7),
                ("skipped-line", 10),
                ("skipped-line", 11),
                ("near-miss-key", 3),
                ("near-miss-key", 5),
                ("near-miss-value", 7),
                ("near-miss-key", 9),
            ],
        ),
        // לקוח; ` Server` with spaces; זמין.
        (
            "he-IL",
            &[
                ("near-miss-key", 5),
                ("near-miss-key", 9),
                ("near-miss-value", 11),
            ],
        ),
        // The Polish article's names are right, but its keys are a bulleted
        // list: pasted, every bullet is skipped and the values have no key.
        (
            "pl-PL",
            &[
                ("skipped-line", 3),
                ("skipped-line", 4),
                ("skipped-line", 5),
                ("skipped-line", 6),
                ("skipped-line", 7),
                ("skipped-line", 8),
                ("skipped-line", 9),
            ],
        ),
        // The same mistakes in languages with no seed article (made up from
        // the translation table; see samples/make_samples.py).
        // TLS 1,2; StandardmäßigDeaktiviert; Aktiviert; Windows-1252.
        (
            "de-DE",
            &[
                ("near-miss-key", 5),
                ("near-miss-value", 6),
                ("near-miss-value", 7),
                ("near-miss-key", 9),
                ("near-miss-value", 10),
                ("near-miss-value", 11),
            ],
        ),
        // `dword\u{a0}:` (French typography); Serveur; Activé.
        (
            "fr-FR",
            &[
                ("skipped-line", 6),
                ("skipped-line", 7),
                ("skipped-value", 6),
                ("skipped-value", 7),
                ("near-miss-key", 9),
                ("near-miss-value", 11),
            ],
        ),
        // TLS 1,2; Cliente / Servidor; Habilitado.
        (
            "es-ES",
            &[
                ("near-miss-key", 5),
                ("near-miss-value", 7),
                ("near-miss-key", 9),
                ("near-miss-value", 11),
            ],
        ),
        // Клиент / Сервер; Включено.
        (
            "ru-RU",
            &[
                ("near-miss-key", 5),
                ("near-miss-value", 7),
                ("near-miss-key", 9),
                ("near-miss-value", 11),
            ],
        ),
        // プロトコル for Protocols; クライアント / サーバー; 有効; `dword：`.
        (
            "ja-JP",
            &[
                ("skipped-line", 6),
                ("skipped-line", 7),
                ("near-miss-key", 5),
                ("near-miss-value", 7),
                ("near-miss-key", 9),
                ("near-miss-value", 11),
            ],
        ),
    ];
    for (lang, want) in expect {
        let path = format!("samples/translated/{lang}.reg");
        let (code, got) = meant(&path);
        assert_eq!(code, 1, "{lang} is noncompliant");
        let want: Vec<(String, u64)> = want.iter().map(|(c, l)| (c.to_string(), *l)).collect();
        assert_eq!(got, want, "{lang}");
        snapshot!(
            format!("apply-translated-{lang}"),
            tlsreg(&["audit", "--apply", &path]).out()
        );
    }
    let (code, got) = meant("samples/translated/en-US.reg");
    assert_eq!(
        (code, got),
        (0, vec![]),
        "the English original is compliant"
    );
}

#[test]
fn skipped_lines_offer_the_corrected_line() {
    let run = tlsreg(&[
        "audit",
        "--format",
        "json",
        "--apply",
        "samples/translated/zh-TW.reg",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let suggestions: Vec<&str> = findings(&doc)
        .iter()
        .filter_map(|f| f["suggestion"].as_str())
        .collect();
    assert_eq!(
        suggestions,
        [
            "\"DisabledByDefault\"=dword:00000000",
            "\"Enabled\"=dword:00000001",
            "\"DisabledByDefault\"=dword:00000000",
            "\"Enabled\"=dword:00000001"
        ]
    );
}

/// A skipped line's "did you mean" is the line as it was meant, names
/// included: the reader repairs `DWORD:`, the evaluation the translated or
/// misspelt name (`"увімкнено"` is `"Enabled"`).
#[test]
fn did_you_mean_names_the_value_meant() {
    let mut shown = Vec::new();
    for lang in [
        "de-DE", "es-ES", "fr-FR", "he-IL", "ja-JP", "pl-PL", "ru-RU", "uk-UA", "vi-VN", "zh-TW",
    ] {
        let path = format!("samples/translated/{lang}.reg");
        let run = tlsreg(&["audit", "--format", "json", "--apply", &path]);
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        for f in findings(&doc) {
            let Some(s) = f["suggestion"].as_str() else {
                continue;
            };
            if s.starts_with('"') {
                assert!(
                    s.starts_with("\"Enabled\"=") || s.starts_with("\"DisabledByDefault\"="),
                    "{lang}: {s}"
                );
            }
            shown.push(serde_json::json!({
                "file": f["location"]["file"],
                "line": f["location"]["line"],
                "code": f["code"],
                "suggestion": s,
            }));
        }
    }
    snapshot!(
        "did-you-mean-json",
        serde_json::to_string_pretty(&shown).unwrap()
    );
}
