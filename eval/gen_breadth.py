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
    "flutterwave-encryption-key": ("FLW_ENCRYPTION_KEY", lambda r: "FLWSECK_TEST" + rstr(r, HEX, 12),
                                   r"FLWSECK_TEST[a-f0-9]{12}", False, "FLWSECK_TEST"),
    "flutterwave-public-key": ("FLW_PUBLIC_KEY", lambda r: "FLWPUBK-" + rstr(r, HEX, 32) + "-X",
                               r"FLWPUBK-[a-f0-9]{32}-X", True, "FLWPUBK-"),
    "dynatrace-api-token": ("DT_API_TOKEN",
                            lambda r: f"dt0c01.{rstr(r, UPPER_AN, 24)}.{rstr(r, UPPER_AN, 64)}",
                            r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}", False, "dt0c01."),
    "sourcegraph-token": ("SRC_ACCESS_TOKEN", lambda r: f"sgp_{rstr(r, HEX, 16)}_{rstr(r, HEX, 40)}",
                          r"sgp_[a-f0-9]{16}_[a-f0-9]{40}", False, "sgp_"),
    "openshift-user-token": ("OPENSHIFT_TOKEN", lambda r: "sha256~" + rstr(r, B64URL, 43),
                             r"sha256~[A-Za-z0-9_-]{43}", False, "sha256~"),
    "gocardless-access-token": ("GOCARDLESS_ACCESS_TOKEN",
                                lambda r: pick(r, ["live_", "sandbox_"]) + rstr(r, B64URL, 40),
                                r"(live|sandbox)_[A-Za-z0-9_-]{40}", False, "live_"),
    "lob-api-key": ("LOB_API_KEY", lambda r: "live_" + rstr(r, HEX, 35), r"live_[a-f0-9]{35}", False, "live_"),
    "lob-test-key": ("LOB_API_KEY", lambda r: "test_" + rstr(r, HEX, 35), r"test_[a-f0-9]{35}", True, "test_"),
    "mailgun-api-key": ("MAILGUN_API_KEY", lambda r: "key-" + rstr(r, HEX, 32), r"key-[a-f0-9]{32}", False, "key-"),
    "mailgun-public-key": ("MAILGUN_PUBLIC_KEY", lambda r: "pubkey-" + rstr(r, HEX, 32),
                           r"pubkey-[a-f0-9]{32}", True, "pubkey-"),
    "messagebird-api-key": ("MESSAGEBIRD_ACCESS_KEY", lambda r: rstr(r, B62, 25), r"[A-Za-z0-9]{25}", False, ""),
    "intra42-client-secret": ("FT_CLIENT_SECRET", lambda r: pick(r, ["s-s4t2ud-", "s-s4t2af-"]) + rstr(r, HEX, 64),
                              r"s-s4t2(ud|af)-[a-f0-9]{64}", False, "s-s4t2ud-"),
    "sidekiq-enterprise-credentials": ("BUNDLE_ENTERPRISE__CONTRIBSYS__COM",
                                       lambda r: rstr(r, HEX, 8) + ":" + rstr(r, HEX, 8),
                                       r"[a-f0-9]{8}:[a-f0-9]{8}", False, ""),
    "sumologic-access-id": ("SUMO_ACCESS_ID", lambda r: "su" + rstr(r, B62, 12), r"su[A-Za-z0-9]{12}", False, "su"),
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
    "doppler-token": ("DOPPLER_TOKEN", lambda r: "dp.st." + rstr(r, B62, 43), r"dp\.st\.[A-Za-z0-9]{43}", False, "dp.st."),
    "pulumi-access-token": ("PULUMI_ACCESS_TOKEN", lambda r: "pul-" + rstr(r, HEX, 40), r"pul-[a-f0-9]{40}", False, "pul-"),
    "linear-api-key": ("LINEAR_API_KEY", lambda r: "lin_api_" + rstr(r, B62, 40), r"lin_api_[A-Za-z0-9]{40}", False, "lin_api_"),
    "postman-api-key": ("POSTMAN_API_KEY", lambda r: f"PMAK-{rstr(r, HEX, 24)}-{rstr(r, HEX, 34)}",
                        r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", False, "PMAK-"),
    "grafana-service-account-token": ("GRAFANA_TOKEN", lambda r: f"glsa_{rstr(r, B62, 32)}_{rstr(r, HEX, 8)}",
                                      r"glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}", False, "glsa_"),
    "databricks-token": ("DATABRICKS_TOKEN", lambda r: "dapi" + rstr(r, HEX, 32), r"dapi[a-f0-9]{32}", False, "dapi"),
    "shopify-access-token": ("SHOPIFY_ACCESS_TOKEN", lambda r: "shpat_" + rstr(r, HEX, 32), r"shpat_[a-f0-9]{32}", False, "shpat_"),
    "digitalocean-pat": ("DIGITALOCEAN_TOKEN", lambda r: "dop_v1_" + rstr(r, HEX, 64), r"dop_v1_[a-f0-9]{64}", False, "dop_v1_"),
    "dockerhub-token": ("DOCKERHUB_TOKEN", lambda r: "dckr_pat_" + rstr(r, B64URL, 27), r"dckr_pat_[A-Za-z0-9_-]{27}", False, "dckr_pat_"),
    "age-secret-key": ("SOPS_AGE_KEY", lambda r: "AGE-SECRET-KEY-1" + rstr(r, BECH32, 58),
                       r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", False, "AGE-SECRET-KEY-1"),
    "openrouter-api-key": ("OPENROUTER_API_KEY", lambda r: "sk-or-v1-" + rstr(r, HEX, 64), r"sk-or-v1-[a-f0-9]{64}", False, "sk-or-v1-"),
    "groq-api-key": ("GROQ_API_KEY", lambda r: "gsk_" + rstr(r, B62, 52), r"gsk_[A-Za-z0-9]{52}", False, "gsk_"),
    "xai-api-key": ("XAI_API_KEY", lambda r: "xai-" + rstr(r, B62, 80), r"xai-[A-Za-z0-9]{80}", False, "xai-"),
    "replicate-api-token": ("REPLICATE_API_TOKEN", lambda r: "r8_" + rstr(r, B62, 37), r"r8_[A-Za-z0-9]{37}", False, "r8_"),
    "rubygems-api-key": ("GEM_HOST_API_KEY", lambda r: "rubygems_" + rstr(r, HEX, 48), r"rubygems_[a-f0-9]{48}", False, "rubygems_"),
    "bitbucket-app-password": ("BITBUCKET_APP_PASSWORD", lambda r: "ATBB" + rstr(r, B62, 32), r"ATBB[A-Za-z0-9]{32}", False, "ATBB"),
    "newrelic-user-api-key": ("NEW_RELIC_API_KEY", lambda r: "NRAK-" + rstr(r, UPPER_AN, 27), r"NRAK-[A-Z0-9]{27}", False, "NRAK-"),
    "sentry-user-token": ("SENTRY_AUTH_TOKEN", lambda r: "sntryu_" + rstr(r, HEX, 64), r"sntryu_[a-f0-9]{64}", False, "sntryu_"),
    "datadog-api-key": ("DATADOG_API_KEY", lambda r: rstr(r, HEX, 32), r"[a-f0-9]{32}", False, ""),
    "brevo-api-key": ("BREVO_API_KEY", lambda r: f"xkeysib-{rstr(r, HEX, 64)}-{rstr(r, B62, 16)}",
                      r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}", False, "xkeysib-"),
    "hubspot-private-app-token": ("HUBSPOT_ACCESS_TOKEN", lambda r: f"pat-{pick(r, ['na1', 'eu1'])}-{_uuid(r)}",
                                  r"pat-(na|eu)1-[a-f0-9-]{36}", False, "pat-na1-"),
    "prefect-api-key": ("PREFECT_API_KEY", lambda r: "pnu_" + rstr(r, B62, 36), r"pnu_[A-Za-z0-9]{36}", False, "pnu_"),
    "buildkite-token": ("BUILDKITE_API_TOKEN", lambda r: "bkua_" + rstr(r, HEX, 40), r"bkua_[a-f0-9]{40}", False, "bkua_"),
    "figma-token": ("FIGMA_TOKEN", lambda r: "figd_" + rstr(r, B64URL, 40), r"figd_[A-Za-z0-9_-]{40}", False, "figd_"),
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
