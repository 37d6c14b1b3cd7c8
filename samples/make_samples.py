#!/usr/bin/env python3
"""Writes the sample .reg files, byte for byte. Run from this folder.

The exports use regedit's layout (UTF-16LE with BOM, CRLF, a blank line before
each key, a final blank line). The translated files reproduce the registry block
of each machine-translated seed article as a user would paste it into Notepad:
one key or value per line, under the regedit header, saved in a common encoding.
"""

H5 = "Windows Registry Editor Version 5.00"
CCS = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet"
SCH = CCS + r"\Control\SecurityProviders\SCHANNEL"
P = SCH + r"\Protocols"


def export(keys):
    """keys: list of (path, [value lines]) -> regedit export text."""
    lines = [H5]
    for path, values in keys:
        lines += ["", f"[{path}]"] + values
    return "\r\n".join(lines) + "\r\n\r\n"


def utf16(text):
    return b"\xff\xfe" + text.encode("utf-16-le")


def write(name, data):
    with open(name, "wb") as f:
        f.write(data)


def on():
    return ['"DisabledByDefault"=dword:00000000', '"Enabled"=dword:00000001']


def off():
    return ['"DisabledByDefault"=dword:00000001', '"Enabled"=dword:00000000']


schannel_head = [
    (SCH, ['"EventLogging"=dword:00000001']),
    (SCH + r"\Ciphers", []),
    (SCH + r"\CipherSuites", []),
    (SCH + r"\Hashes", []),
    (SCH + r"\KeyExchangeAlgorithms", []),
    (P, []),
    (P + r"\SSL 2.0", []),
    (P + r"\SSL 2.0\Client", ['"DisabledByDefault"=dword:00000001']),
]

# A hardened server: old protocols off, TLS 1.2 explicitly on both sides.
write("compliant.reg", utf16(export(schannel_head + [
    (P + r"\TLS 1.0", []),
    (P + r"\TLS 1.0\Client", off()),
    (P + r"\TLS 1.0\Server", off()),
    (P + r"\TLS 1.1", []),
    (P + r"\TLS 1.1\Client", off()),
    (P + r"\TLS 1.1\Server", off()),
    (P + r"\TLS 1.2", []),
    (P + r"\TLS 1.2\Client", on()),
    (P + r"\TLS 1.2\Server", on()),
])))

# Half done: the Server side was set, the Client side left out of the default
# protocols, as in many tickets.
write("noncompliant.reg", utf16(export(schannel_head + [
    (P + r"\TLS 1.2", []),
    (P + r"\TLS 1.2\Client", ['"DisabledByDefault"=dword:00000001', '"Enabled"=dword:00000001']),
    (P + r"\TLS 1.2\Server", ['"Enabled"=dword:00000001']),
])))

# What IIS Crypto and SChannelDsc wrote for years: Enabled = 0xffffffff.
write("enabled-ffffffff.reg", utf16(export(schannel_head + [
    (P + r"\TLS 1.2", []),
    (P + r"\TLS 1.2\Client", ['"DisabledByDefault"=dword:00000000', '"Enabled"=dword:ffffffff']),
    (P + r"\TLS 1.2\Server", ['"DisabledByDefault"=dword:00000000', '"Enabled"=dword:ffffffff']),
])))

# Set by a script that wrote strings: REG_SZ "1" is not a DWORD.
write("wrong-type.reg", utf16(export([
    (P + r"\TLS 1.2", []),
    (P + r"\TLS 1.2\Client", ['"DisabledByDefault"=dword:00000000', '"Enabled"="1"']),
    (P + r"\TLS 1.2\Server", ['"DisabledByDefault"=hex(b):00,00,00,00,00,00,00,00', '"Enabled"=dword:00000001']),
])))

# A fix undone: both sides set, then Client\Enabled deleted with "name"=-,
# Client\DisabledByDefault deleted and set again (the later line wins), and
# the Server key deleted with [-key].
write("deleted.reg", utf16(export([
    (P + r"\TLS 1.2", []),
    (P + r"\TLS 1.2\Client", on()),
    (P + r"\TLS 1.2\Server", on()),
    (P + r"\TLS 1.2\Client", ['"Enabled"=-', '"DisabledByDefault"=-', '"DisabledByDefault"=dword:00000000']),
    ("-" + P + r"\TLS 1.2\Server", []),
])))

# An export of an offline SYSTEM hive loaded as HKLM\GOLDEN (reg load), with
# two control sets that disagree; Select\Current picks ControlSet002.
G = r"HKEY_LOCAL_MACHINE\GOLDEN"
gp = r"\Control\SecurityProviders\SCHANNEL\Protocols"
write("golden-mounted.reg", utf16(export([
    (G, []),
    (G + r"\ControlSet001", []),
    (G + r"\ControlSet001" + gp + r"\TLS 1.2\Client", on()),
    (G + r"\ControlSet001" + gp + r"\TLS 1.2\Server", on()),
    (G + r"\ControlSet002", []),
    (G + r"\ControlSet002" + gp + r"\TLS 1.2\Client", ['"Enabled"=dword:00000000']),
    (G + r"\Select", ['"Current"=dword:00000002', '"Default"=dword:00000002',
                      '"Failed"=dword:00000000', '"LastKnownGood"=dword:00000001']),
])))

# The article's English block, as a user would paste it from the page.
article = f"""{H5}

[{P}\\TLS 1.2]

[{P}\\TLS 1.2\\Client]
"DisabledByDefault"=dword:00000000
"Enabled"=dword:00000001

[{P}\\TLS 1.2\\Server]
"DisabledByDefault"=dword:00000000
"Enabled"=dword:00000001
"""
write("translated/en-US.reg", article.replace("\n", "\r\n").encode("ascii"))


def pasted(keys):
    """The block as pasted: header, then one key or value per line."""
    lines = [H5, ""]
    for path, values in keys:
        lines += [f"[{path}]"] + values + [""]
    return "\r\n".join(lines)


# zh-TW (seed 000): translated subkeys and a full-width colon; saved as
# "Unicode" (UTF-16LE) from Notepad.
write("translated/zh-TW.reg", utf16(pasted([
    (P + r"\TLS 1.2", []),
    (P + r"\TLS 1.2 \ 用戶端", ['"DisabledByDefault" = dword： 00000000', '"Enabled" = dword： 00000001']),
    (P + r"\TLS 1.2 \ 伺服器", ['"DisabledByDefault" = dword： 00000000', '"Enabled" = dword： 00000001']),
])))

# uk-UA (seed 001): decimal comma, translated Client and value name, upper-case
# DWORD with a space; saved as UTF-8 without BOM (Notepad's default).
write("translated/uk-UA.reg", pasted([
    (P + r"\TLS 1,2", []),
    (P + r"\TLS 1,2 \ клієнт", ['"Disablebydefault" = DWORD: 00000000', '"увімкнено" = DWORD: 00000001']),
    (P + r"\TLS 1,2 \ Server", ['"Disablebydefault" = DWORD: 00000000', '"увімкнено" = DWORD: 00000001']),
]).encode("utf-8"))

# vi-VN (seed 002): decimal comma, translated Client, Server and Enabled;
# saved as UTF-8 with BOM.
write("translated/vi-VN.reg", b"\xef\xbb\xbf" + pasted([
    (P + r"\TLS 1,2", []),
    (P + r"\TLS 1,2 \ máy khách", ['"DisabledByDefault" = DWORD: 00000000', '"bật" = DWORD: 00000001']),
    (P + r"\TLS 1,2 \ máy chủ", ['"DisabledByDefault" = DWORD: 00000000', '"Enabled" = DWORD: 00000001']),
]).encode("utf-8"))

# he-IL (seed 003): translated Client and Enabled, spaces around `=` and after
# `dword:` (which regedit accepts); saved as UTF-16LE.
write("translated/he-IL.reg", utf16(pasted([
    (P + r"\TLS 1.2", []),
    (P + r"\TLS 1.2 \ לקוח", ['"DisabledByDefault" = dword: 00000000', '"Enabled" = dword: 00000001']),
    (P + r"\TLS 1.2 \ Server", ['"DisabledByDefault" = dword: 00000000', '"זמין" = dword: 00000001']),
])))

# pl-PL (seed 004) is the newer article: its key and value names are right, but
# it gives no .reg block, only the three keys as a bulleted list and the values
# in prose ("Kliknij dwukrotnie DisabledByDefault wartość, wprowadź wartość 0").
# What a user pastes is the bullets with the values below them: regedit skips
# every bullet line, so no key is open and the values go nowhere.
bullet = "  \u2022 "
write("translated/pl-PL.reg", "\r\n".join([
    H5, "",
    bullet + P + "\\TLS 1.2",
    bullet + P + "\\TLS 1.2\\Client",
    '"DisabledByDefault"=dword:00000000',
    '"Enabled"=dword:00000001',
    bullet + P + "\\TLS 1.2\\Server",
    '"DisabledByDefault"=dword:00000000',
    '"Enabled"=dword:00000001',
    "",
]).encode("utf-8"))

# The same mistakes in languages with no seed article: made up from the
# translation table (src/schannel/translations.tsv) the way the seeds go wrong,
# so that each language's words are exercised end to end.

# de-DE: decimal comma, translated Enabled and DisabledByDefault run together;
# saved as ANSI (Windows-1252), Notepad's default on older German Windows.
write("translated/de-DE.reg", pasted([
    (P + r"\TLS 1,2", []),
    (P + r"\TLS 1,2\Client", ['"StandardmäßigDeaktiviert"=dword:00000000', '"Aktiviert"=dword:00000001']),
    (P + r"\TLS 1,2\Server", ['"StandardmäßigDeaktiviert"=dword:00000000', '"Aktiviert"=dword:00000001']),
]).encode("cp1252"))

# fr-FR: French typography puts a no-break space before the colon, so
# `dword\u00a0: 00000001`; serveur for Server, activé for Enabled; UTF-8.
write("translated/fr-FR.reg", pasted([
    (P + r"\TLS 1.2", []),
    (P + r"\TLS 1.2\Client", ['"DisabledByDefault"=dword\u00a0: 00000000', '"Enabled"=dword\u00a0: 00000001']),
    (P + r"\TLS 1.2\Serveur", ['"DisabledByDefault"=dword:00000000', '"Activé"=dword:00000001']),
]).encode("utf-8"))

# es-ES: decimal comma, cliente / servidor, habilitado; UTF-8 with BOM.
write("translated/es-ES.reg", b"\xef\xbb\xbf" + pasted([
    (P + r"\TLS 1,2", []),
    (P + r"\TLS 1,2\Cliente", ['"DisabledByDefault"=dword:00000000', '"Habilitado"=dword:00000001']),
    (P + r"\TLS 1,2\Servidor", ['"DisabledByDefault"=dword:00000000', '"Habilitado"=dword:00000001']),
]).encode("utf-8"))

# ru-RU: клиент / сервер and включено, with the key path right; UTF-16LE.
write("translated/ru-RU.reg", utf16(pasted([
    (P + r"\TLS 1.2", []),
    (P + r"\TLS 1.2\Клиент", ['"DisabledByDefault"=dword:00000000', '"Включено"=dword:00000001']),
    (P + r"\TLS 1.2\Сервер", ['"DisabledByDefault"=dword:00000000', '"Включено"=dword:00000001']),
])))

# ja-JP: full-width colons and クライアント / サーバー, with a translated
# Protocols component too; UTF-16LE.
write("translated/ja-JP.reg", utf16(pasted([
    (SCH + r"\プロトコル\TLS 1.2", []),
    (SCH + r"\プロトコル\TLS 1.2\クライアント", ['"DisabledByDefault"=dword：00000000', '"有効"=dword：00000001']),
    (P + r"\TLS 1.2\サーバー", ['"DisabledByDefault"=dword:00000000', '"有効"=dword:00000001']),
])))

# For the protocol matrix: 0xffffffff, missing, contradicting and mismatched
# values, with the OS version in the same export (Windows Server 2019).
CV = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
write("matrix.reg", utf16(export([
    (CV, ['"CurrentBuildNumber"="17763"', '"InstallationType"="Server"',
          '"ProductName"="Windows Server 2019 Standard"', '"UBR"=dword:00001aed']),
    (P + r"\SSL 3.0\Server", ['"DisabledByDefault"=dword:00000001', '"Enabled"=dword:00000000']),
    (P + r"\TLS 1.0\Client", ['"DisabledByDefault"=dword:00000001', '"Enabled"=dword:00000001']),
    (P + r"\TLS 1.0\Server", ['"DisabledByDefault"=dword:00000000', '"Enabled"=dword:00000000']),
    (P + r"\TLS 1.1\Client", ['"Enabled"=dword:00000001']),
    (P + r"\TLS 1.1\Server", ['"Enabled"=dword:00000000']),
    (P + r"\TLS 1.2\Client", ['"DisabledByDefault"=dword:00000000', '"Enabled"=dword:ffffffff']),
    (P + r"\TLS 1.2\Server", ['"DisabledByDefault"=dword:00000000', '"Enabled"=dword:ffffffff']),
])))
# Applied on top of matrix.reg: the same machine said to be Windows 7 SP1.
write("os-windows7.reg", utf16(export([
    (CV, ['"CurrentBuildNumber"="7601"', '"InstallationType"="Client"', '"ProductName"="Windows 7 Professional"',
          '"UBR"=-']),
])))
