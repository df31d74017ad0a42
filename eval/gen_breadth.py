"""The breadth section of the corpus: one credential format after another, each
written from public facts about the format (prefix, length, alphabet, checksum),
in the files coding agents read and write (.env, Makefile, Go, PHP, YAML, XML,
JSON, shell), with look-alikes of the same vendor (placeholders, masked values,
references, documentation stand-ins) that are not secrets.

Every value is a random fake drawn from the format's alphabet; `FORMATS` holds
the pattern `generate.py` checks each label against. Formats that are public
identifiers by design (client IDs, publishable keys) and test-mode keys are
optional labels: a tool may flag them or not.
"""

import base64
import json
import re
import string

from gen_values import L, N, digits, pick, rstr

HEX = "0123456789abcdef"
B62 = string.ascii_letters + string.digits
B64URL = B62 + "-_"
LOWER_AN = string.ascii_lowercase + string.digits
UPPER_AN = string.ascii_uppercase + string.digits
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt_b64(rng):
    """A JWT (HS256, random claims and signature), base64-encoded once more."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": "svc-" + rstr(rng, LOWER_AN, 8), "exp": rng.randint(1800000000, 1900000000)}
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    token = f"{header}.{payload}.{rstr(rng, B64URL, 43)}"
    return base64.b64encode(token.encode()).decode()


def _uuid(rng):
    return f"{rstr(rng, HEX, 8)}-{rstr(rng, HEX, 4)}-4{rstr(rng, HEX, 3)}-{pick(rng, '89ab')}{rstr(rng, HEX, 3)}-{rstr(rng, HEX, 12)}"


# The regex class of each alphabet, for the patterns labels are checked against.
CLASS = {HEX: "[a-f0-9]", B62: "[A-Za-z0-9]", B64URL: "[A-Za-z0-9_-]", LOWER_AN: "[a-z0-9]",
         UPPER_AN: "[A-Z0-9]", BECH32: "[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]"}


def fixed(name, prefix, alphabet, n, optional=False):
    """A format that is `prefix` and `n` characters of `alphabet`."""
    return (name, lambda r: prefix + rstr(r, alphabet, n), re.escape(prefix) + f"{CLASS[alphabet]}{{{n}}}",
            optional, prefix)


# family: (variable name, value maker, pattern, optional?, prefix for look-alikes)
# The variable name is the one the vendor's docs use; the look-alike prefix is what
# a placeholder of the format starts with ("" when the format has no prefix).
FAMILIES = {
    "settlemint-token": ("SETTLEMINT_ACCESS_TOKEN",
                         lambda r: pick(r, ["sm_pat_", "sm_aat_", "sm_sat_"]) + rstr(r, B62, 16),
                         r"sm_(pat|aat|sat)_[A-Za-z0-9]{16}", False, "sm_pat_"),
    "flutterwave-secret-key": ("FLW_SECRET_KEY",
                               lambda r: pick(r, ["FLWSECK-", "FLWSECK_TEST-"]) + rstr(r, HEX, 32) + "-X",
                               r"FLWSECK(_TEST)?-[a-f0-9]{32}-X", False, "FLWSECK-"),
    "flutterwave-encryption-key": fixed("FLW_ENCRYPTION_KEY", "FLWSECK_TEST", HEX, 12),
    "flutterwave-public-key": ("FLW_PUBLIC_KEY", lambda r: "FLWPUBK-" + rstr(r, HEX, 32) + "-X",
                               r"FLWPUBK-[a-f0-9]{32}-X", True, "FLWPUBK-"),
    "dynatrace-api-token": ("DT_API_TOKEN",
                            lambda r: f"dt0c01.{rstr(r, UPPER_AN, 24)}.{rstr(r, UPPER_AN, 64)}",
                            r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}", False, "dt0c01."),
    "sourcegraph-token": ("SRC_ACCESS_TOKEN", lambda r: f"sgp_{rstr(r, HEX, 16)}_{rstr(r, HEX, 40)}",
                          r"sgp_[a-f0-9]{16}_[a-f0-9]{40}", False, "sgp_"),
    "openshift-user-token": fixed("OPENSHIFT_TOKEN", "sha256~", B64URL, 43),
    "gocardless-access-token": ("GOCARDLESS_ACCESS_TOKEN",
                                lambda r: pick(r, ["live_", "sandbox_"]) + rstr(r, B64URL, 40),
                                r"(live|sandbox)_[A-Za-z0-9_-]{40}", False, "live_"),
    "lob-api-key": fixed("LOB_API_KEY", "live_", HEX, 35),
    "lob-test-key": fixed("LOB_API_KEY", "test_", HEX, 35, optional=True),
    "mailgun-api-key": fixed("MAILGUN_API_KEY", "key-", HEX, 32),
    "mailgun-public-key": fixed("MAILGUN_PUBLIC_KEY", "pubkey-", HEX, 32, optional=True),
    "messagebird-api-key": ("MESSAGEBIRD_ACCESS_KEY", lambda r: rstr(r, B62, 25), r"[A-Za-z0-9]{25}", False, ""),
    "intra42-client-secret": ("FT_CLIENT_SECRET", lambda r: pick(r, ["s-s4t2ud-", "s-s4t2af-"]) + rstr(r, HEX, 64),
                              r"s-s4t2(ud|af)-[a-f0-9]{64}", False, "s-s4t2ud-"),
    "sidekiq-enterprise-credentials": ("BUNDLE_ENTERPRISE__CONTRIBSYS__COM",
                                       lambda r: rstr(r, HEX, 8) + ":" + rstr(r, HEX, 8),
                                       r"[a-f0-9]{8}:[a-f0-9]{8}", False, ""),
    "sumologic-access-id": fixed("SUMO_ACCESS_ID", "su", B62, 12),
    "sumologic-access-key": ("SUMO_ACCESS_KEY", lambda r: rstr(r, B62, 64), r"[A-Za-z0-9]{64}", False, ""),
    "sonarqube-token": ("SONAR_TOKEN", lambda r: pick(r, ["squ_", "sqp_", "sqa_"]) + rstr(r, HEX, 40),
                        r"sq[upa]_[a-f0-9]{40}", False, "squ_"),
    "sonarqube-legacy-token": ("SONAR_TOKEN", lambda r: rstr(r, HEX, 40), r"[a-f0-9]{40}", False, ""),
    "cisco-meraki-api-key": ("MERAKI_DASHBOARD_API_KEY", lambda r: rstr(r, HEX, 40), r"[a-f0-9]{40}", False, ""),
    "discord-client-secret": ("DISCORD_CLIENT_SECRET", lambda r: rstr(r, B64URL, 32), r"[A-Za-z0-9_-]{32}", False, ""),
    "discord-client-id": ("DISCORD_CLIENT_ID", lambda r: str(r.randint(1, 9)) + digits(r, 17), r"[0-9]{18}", True, ""),
    "asana-client-secret": ("ASANA_CLIENT_SECRET", lambda r: rstr(r, LOWER_AN, 32), r"[a-z0-9]{32}", False, ""),
    "asana-client-id": ("ASANA_CLIENT_ID", lambda r: "1" + digits(r, 15), r"[0-9]{16}", True, ""),
    "adobe-client-id": ("ADOBE_CLIENT_ID", lambda r: rstr(r, HEX, 32), r"[a-f0-9]{32}", True, ""),
    "jwt-base64": ("AUTH_TOKEN_B64", _jwt_b64, r"ZXlK[A-Za-z0-9+/]+={0,2}", False, ""),
    "doppler-token": fixed("DOPPLER_TOKEN", "dp.st.", B62, 43),
    "pulumi-access-token": fixed("PULUMI_ACCESS_TOKEN", "pul-", HEX, 40),
    "linear-api-key": fixed("LINEAR_API_KEY", "lin_api_", B62, 40),
    "postman-api-key": ("POSTMAN_API_KEY", lambda r: f"PMAK-{rstr(r, HEX, 24)}-{rstr(r, HEX, 34)}",
                        r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", False, "PMAK-"),
    "grafana-service-account-token": ("GRAFANA_TOKEN", lambda r: f"glsa_{rstr(r, B62, 32)}_{rstr(r, HEX, 8)}",
                                      r"glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}", False, "glsa_"),
    "databricks-token": fixed("DATABRICKS_TOKEN", "dapi", HEX, 32),
    "shopify-access-token": fixed("SHOPIFY_ACCESS_TOKEN", "shpat_", HEX, 32),
    "digitalocean-pat": fixed("DIGITALOCEAN_TOKEN", "dop_v1_", HEX, 64),
    "dockerhub-token": fixed("DOCKERHUB_TOKEN", "dckr_pat_", B64URL, 27),
    "age-secret-key": fixed("SOPS_AGE_KEY", "AGE-SECRET-KEY-1", BECH32, 58),
    "openrouter-api-key": fixed("OPENROUTER_API_KEY", "sk-or-v1-", HEX, 64),
    "groq-api-key": fixed("GROQ_API_KEY", "gsk_", B62, 52),
    "xai-api-key": fixed("XAI_API_KEY", "xai-", B62, 80),
    "replicate-api-token": fixed("REPLICATE_API_TOKEN", "r8_", B62, 37),
    "rubygems-api-key": fixed("GEM_HOST_API_KEY", "rubygems_", HEX, 48),
    "bitbucket-app-password": fixed("BITBUCKET_APP_PASSWORD", "ATBB", B62, 32),
    "newrelic-user-api-key": fixed("NEW_RELIC_API_KEY", "NRAK-", UPPER_AN, 27),
    "sentry-user-token": fixed("SENTRY_AUTH_TOKEN", "sntryu_", HEX, 64),
    "datadog-api-key": ("DATADOG_API_KEY", lambda r: rstr(r, HEX, 32), r"[a-f0-9]{32}", False, ""),
    "brevo-api-key": ("BREVO_API_KEY", lambda r: f"xkeysib-{rstr(r, HEX, 64)}-{rstr(r, B62, 16)}",
                      r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}", False, "xkeysib-"),
    "hubspot-private-app-token": ("HUBSPOT_ACCESS_TOKEN", lambda r: f"pat-{pick(r, ['na1', 'eu1'])}-{_uuid(r)}",
                                  r"pat-(na|eu)1-[a-f0-9-]{36}", False, "pat-na1-"),
    "prefect-api-key": fixed("PREFECT_API_KEY", "pnu_", B62, 36),
    "buildkite-token": fixed("BUILDKITE_API_TOKEN", "bkua_", HEX, 40),
    "figma-token": fixed("FIGMA_TOKEN", "figd_", B64URL, 40),
}

FORMATS = {family: spec[2] for family, spec in FAMILIES.items()}


def _camel(env_name):
    """`DD_API_KEY` as a program variable: `ddApiKey`. Names that only exist as
    environment variables (`BUNDLE_GEMS__CONTRIBSYS__COM`) stay as they are."""
    if "__" in env_name:
        return env_name
    words = env_name.lower().split("_")
    return words[0] + "".join(w.capitalize() for w in words[1:] if w)


def lookalike(rng, family):
    """A value of `family`'s vendor that is no secret: a placeholder, a masked or
    elided value, or a reference to where the secret lives."""
    name, _, _, _, prefix = FAMILIES[family]
    k = rng.randrange(5)
    if k == 0:
        return N(prefix + "x" * 24, "placeholder", "secret")
    if k == 1:
        return N(prefix + "*" * 12 + rstr(rng, HEX, 4), "masked", "secret")
    if k == 2:
        return N("${" + name + "}", "reference", "secret")
    if k == 3:
        return N(f"<your-{family}>", "placeholder", "secret")
    return N(prefix + "...", "elided", "secret")


# Each wrapper writes `name = value` lines in one file type: (source, line maker,
# header, footer); the line maker gets (name, items) and returns items.
def _env(name, v):
    return [f"{name}=", v, "\n"]


def _make(name, v):
    return [f"{name} ?= ", v, "\n"]


def _go(name, v):
    return [f'\t{_camel(name)} := "', v, '"\n']


def _php(name, v):
    return [f"    '{name.lower()}' => '", v, "',\n"]


def _yaml(name, v):
    return [f"  {name.lower()}: \"", v, "\"\n"]


def _xml(name, v):
    return [f"  <{_camel(name)}>", v, f"</{_camel(name)}>\n"]


def _json(name, v):
    return [f'  "{name}": "', v, '",\n']


def _shell(name, v):
    return [f"export {name}='", v, "'\n"]


WRAPPERS = [
    ("env", _env, "# generated by the deploy script\nNODE_ENV=production\n", "LOG_LEVEL=info\n"),
    ("makefile", _make, "APP := billing\nREGION ?= eu-west-1\n", "\ndeploy:\n\t./scripts/deploy.sh $(APP)\n"),
    ("go", _go, "package config\n\nfunc defaults() {\n", "\t_ = region\n}\n"),
    ("php", _php, "<?php\n\nreturn [\n    'region' => 'eu-west-1',\n", "];\n"),
    ("yaml", _yaml, "service:\n  name: billing\n", "  replicas: 2\n"),
    ("xml", _xml, "<?xml version=\"1.0\"?>\n<settings>\n  <region>eu-west-1</region>\n", "</settings>\n"),
    ("json", _json, "{\n  \"region\": \"eu-west-1\",\n", "  \"replicas\": 2\n}\n"),
    ("shell", _shell, "#!/bin/sh\nset -eu\n", "exec ./bin/server --port 8080\n"),
]


def documents(rng):
    """The breadth documents: for every family, one document in each of four
    wrappers (the wrappers taken in turn), with the family's secret, one
    look-alike of the same vendor, and one secret of another family."""
    families = sorted(FAMILIES)
    docs = []
    turn = 0
    for i, family in enumerate(families):
        for _ in range(4):
            source, line, header, footer = WRAPPERS[turn % len(WRAPPERS)]
            turn += 1
            other = families[(i + 1 + rng.randrange(len(families) - 1)) % len(families)]
            items = [header]
            lines = [_secret_line(rng, family, line), _lookalike_line(rng, family, line),
                     _secret_line(rng, other, line)]
            rng.shuffle(lines)
            items += lines
            items.append(footer)
            if source == "go":
                items.insert(1, '\tregion := "eu-west-1"\n')
            docs.append((f"breadth-{source}", items))
    return docs


def _secret_line(rng, family, line):
    name, make, _, optional, _ = FAMILIES[family]
    return line(name, L(make(rng), "secret", family, optional=optional))


def _lookalike_line(rng, family, line):
    name = FAMILIES[family][0]
    return line(name, lookalike(rng, family))
