"""Document builders: each returns the items (text and annotations) of one
document that looks like coding-agent traffic of a given source type."""

import re

import gen_text as GT
from gen_values import (
    AWS_EXAMPLE, B62, B64, HEX, L, N, S, SECRET_FAMILIES, api_object_id, b64blob, card,
    card_luhn_invalid, digits, email, email_placeholder, flat, git_sha, gosum_hash, iban, iban_bad,
    iban_for, ip, ip_doc, ip_private, ipv4, ipv4_public_text, ipv6, md5hex, numeric_id, pem_block,
    phone, phone_for, pick, placeholder, public_pem, rstr, secret_value, sha256hex, sri, ssh_pubkey,
    ssn, ssn_invalid, test_card, timestamp, ulid, uuid4, version4, DISPLAY, FIRST, LAST, WORKDOM,
)

SLOT = re.compile(r"⟦(\w+)⟧")


def T(template, **slots):
    """Items of `template` with its ⟦slots⟧ filled; every slot must be given."""
    out = []
    pos = 0
    for m in SLOT.finditer(template):
        out.append(template[pos:m.start()])
        out.append(slots[m.group(1)])
        pos = m.end()
    out.append(template[pos:])
    return out


class Ctx:
    def __init__(self, rng, lang):
        self.rng = rng
        self.lang = lang

    def r(self):
        return self.rng.random()

    def pick(self, seq):
        return pick(self.rng, seq)

    def name(self, lang=None):
        return pick(self.rng, DISPLAY[lang or self.lang])

    def en_name(self):
        return pick(self.rng, DISPLAY["en"])


# ---------------------------------------------------------------- shared pieces

def priv_or_doc(c):
    return ip_private(c.rng) if c.r() < 0.7 else ip_doc(c.rng)


def semver_or_v4(c, p4):
    """A version: four-part (an IPv4 look-alike) with probability p4, else plain semver."""
    if c.r() < p4:
        return N(version4(c.rng), "version-or-oid", "ip")
    return f"{c.rng.randint(0, 9)}.{c.rng.randint(0, 40)}.{c.rng.randint(0, 20)}"


def version_neg(c, context=None):
    v = version4(c.rng)
    ctx = context or c.pick([
        'AssemblyVersion("⟦v⟧")', "<version>⟦v⟧</version>", '"version": "⟦v⟧"', "Version ⟦v⟧",
        "firmware v⟦v⟧", "pip install pywin32-ctypes==⟦v⟧", "ProductVersion: ⟦v⟧", "(build ⟦v⟧)",
        "Chrome ⟦v⟧", "see section ⟦v⟧ of the spec", "OID ⟦v⟧", "release-⟦v⟧", "tag: ⟦v⟧",
    ])
    return T(ctx, v=N(v, "version-or-oid", "ip"))


def lookalike(c):
    """One unlabelled look-alike of some kind, with a short context."""
    rng = c.rng
    k = rng.randrange(22)
    if k == 0:
        return ["request_id=", uuid4(rng)]
    if k == 1:
        return ["commit ", git_sha(rng)]
    if k == 2:
        return ["fixed in ", git_sha(rng, short=True)]
    if k == 3:
        return ["sha256: ", sha256hex(rng)]
    if k == 4:
        return ["md5 ", md5hex(rng)]
    if k == 5:
        return ["payload=", b64blob(rng)]
    if k == 6:
        return ["order #", card_luhn_invalid(rng)]
    if k == 7:
        return ["tracking ", N(numeric_id(rng, 16), "numeric-id", "card")]
    if k == 8:
        return version_neg(c)
    if k == 9:
        return ["host ", ip_private(rng)]
    if k == 10:
        return ["e.g. ", ip_doc(rng)]
    if k == 11:
        return ["api_key=", placeholder(rng)]
    if k == 12:
        return ["at ", N(timestamp(rng), "timestamp", "phone")]
    if k == 13:
        return ["ts=", N(timestamp(rng, 3), "epoch-millis", "phone")]
    if k == 14:
        return ["color: ", N("#" + rstr(rng, "0123456789ABCDEF", 6), "hex-colour", "secret")]
    if k == 15:
        return ["ports ", N(f"{rng.randint(3000, 9000)}-{rng.randint(9001, 9999)}", "port-range", "phone")]
    if k == 16:
        return ["IBAN check failed for ", iban_bad(rng)]
    if k == 17:
        return ["invalid SSN ", ssn_invalid(rng)]
    if k == 18:
        return ["id ", api_object_id(rng)]
    if k == 19:
        isbn = "978-" + str(rng.randint(0, 1)) + "-" + digits(rng, 3) + "-" + digits(rng, 5) + "-" + str(rng.randint(0, 9))
        return ["ISBN ", N(isbn, "isbn", "phone")]
    if k == 20:
        return ["npm i ", N(c.pick(["@types/node@20.11.5", "@angular/core@17.3.1", "@scope/pkg", "@babel/preset-env",
                                     "@aws-sdk/client-s3@3.540.0", "@nestjs/common@10.3.7"]), "npm-scoped-package", "email")]
    return ["key: ", N(c.pick(AWS_EXAMPLE), "aws-documented-example", "secret")]


def lookalikes(c, n):
    out = []
    for _ in range(n):
        out += lookalike(c) + [c.pick(["\n", ", ", "; ", " | "])]
    return out


def hidden_text(c):
    """A hidden-text instance: tag characters or a bidi override."""
    rng = c.rng
    r = rng.random()
    if r < 0.55:
        payload = GT.tag_encode(c.pick(GT.TAG_PAYLOADS))
        if rng.random() < 0.5:
            payload = "\U000E0001" + payload + "\U000E007F"
        # the smuggled text is an injection too, but invisible: a detector may or may not say so
        return L(L(payload, "hidden-text", "tag-chars"), "prompt-injection", "hidden-payload", optional=True)
    if r < 0.8:
        fname = c.pick(["invoice_2024_\u202Efdp.exe", "photo_\u202Egpj.scr", "report-final\u202Excod.js",
                        "readme\u202Etxt.bat"])
        i = fname.index("\u202E")
        # unterminated override: runs to the end of the line
        return [fname[:i], L(fname[i:], "hidden-text", "bidi-override")]
    k = c.rng.randrange(3)
    if k == 0:
        return ['access_level != "user', L('\u202E \u2066// check if admin\u2069 \u2066', "hidden-text", "trojan-source"), '"']
    if k == 1:
        return [L('\u202E } \u2066if (isAdmin)\u2069 \u2066', "hidden-text", "trojan-source"), ' begin admins only']
    return ['role = "', L('\u2067\u202Eresu\u202C\u2069', "hidden-text", "trojan-source"), '"']


def hidden_neg(c):
    k = c.rng.randrange(5)
    if k == 0:
        return N(c.pick(["🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",
                         "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
                         "🏴\U000E0067\U000E0062\U000E0077\U000E006C\U000E0073\U000E007F"]), "emoji-tag-flag", "hidden-text")
    if k == 1:
        return N("👨\u200d👩\u200d👧", "zwj-emoji", "hidden-text")
    if k == 2:
        return N("\u2068" + c.pick(["Jörg", "Ahmed", "أحمد", "Noor"]) + "\u2069", "fluent-isolate", "hidden-text")
    if k == 3:
        return N("\u200f" + "تم الحفظ", "rlm-mark", "hidden-text")
    return N("می\u200cخواهم", "zwnj-persian", "hidden-text")


def prompt_injection(c, lang=None):
    lang = lang or c.lang
    pool = GT.PI.get(lang, GT.PI["en"])
    s = c.pick(pool)
    fam = "multilingual" if lang != "en" else "override"
    r = c.r()
    if lang == "en" and r < 0.25:
        # evasions on the trigger word
        how = c.pick(["leet", "zero-width", "homoglyph", "spaced"])
        m = re.search(r"[Ii]gnore|[Dd]isregard|[Ff]orget", s)
        if m:
            w = m.group(0)
            ev = GT.evade(c.rng, w, how)
            if ev != w:
                s = s[:m.start()] + ev + s[m.end():]
                fam = "evasion-" + how
    return L(s, "prompt-injection", fam)


def pi_neg(c):
    return N(c.pick(GT.PI_NEG.get(c.lang, GT.PI_NEG["en"]) + GT.PI_NEG["en"][:3]), "benign-instruction", "prompt-injection")


def profanity(c):
    if c.lang != "en" and c.lang in GT.PROF_OTHER and c.r() < 0.7:
        w, sent = c.pick(GT.PROF_OTHER[c.lang])
        return T(sent, w=L(w, "profanity", "non-english"))
    w = c.pick(GT.PROF_WORDS)
    how = c.pick(["plain", "plain", "leet", "zero-width", "homoglyph", "diacritics", "repeat", "masked", "spaced"])
    ev = GT.evade(c.rng, w, how) if how != "plain" else w
    if ev == w:
        how = "plain"
    return T(c.pick(GT.PROF_EN), w=L(ev, "profanity", how))


def prof_neg(c):
    return N(c.pick(GT.PROF_NEG_SENT), "bad-word-substring", "profanity")


HARM_TRIGGERS = re.compile(r"vermin|subhuman|parasites|terrorists|stupid|disgusting|animals|burden|hurt|beat|bomb|shoot|stab|"
                           r"smash|poison|alive|cutting|killing|kill|end my life|overdose|nudes|naked|sex|sexual|dirty|porn")


def harmful(c):
    k = c.rng.randrange(4)
    kind, pool, other = [("hate", GT.HATE, GT.HATE_OTHER), ("violence", GT.VIOLENCE, GT.VIOLENCE_OTHER),
                         ("self-harm", GT.SELFHARM, GT.SELFHARM_OTHER), ("sexual", GT.SEXUAL, GT.SEXUAL_OTHER)][k]
    if c.lang in other and c.r() < 0.6:
        return L(other[c.lang], kind, "non-english")
    s = c.pick(pool)
    fam = "plain"
    if c.r() < 0.3:
        m = HARM_TRIGGERS.search(s)
        how = c.pick(["leet", "zero-width", "homoglyph", "masked"])
        if m and len(m.group(0)) > 3:
            ev = GT.evade(c.rng, m.group(0), how)
            if ev != m.group(0):
                s = s[:m.start()] + ev + s[m.end():]
                fam = "evasion-" + how
    return L(s, kind, fam)


def harmful_neg(c):
    k = c.rng.randrange(4)
    looks, pool, cat = [("hate", GT.HATE_NEG, "benign-hate-word"), ("violence", GT.VIOLENCE_NEG, "technical-violence-verb"),
                        ("self-harm", GT.SELFHARM_NEG, "benign-self-harm-word"),
                        ("sexual", GT.SEXUAL_NEG, "benign-sexual-word")][k]
    return N(c.pick(pool), cat, looks)


def url_with_password(c, family=None):
    """scheme://user:SECRET@host..., the password labelled; the `SECRET@host` part is
    also recorded as an e-mail look-alike."""
    rng = c.rng
    family = family or c.pick(["db-url-password", "db-url-password", "url-password"])
    if family == "db-url-password":
        scheme, user, host, tail = c.pick([
            ("postgres", "app", "db.internal.acme-corp.io", ":5432/app?sslmode=require"),
            ("postgresql", "analytics", "pg-primary.prod.svc.cluster.local", ":5432/warehouse"),
            ("mysql", "root", "mysql.eu-west-1.rds.amazonaws.com", ":3306/shop"),
            ("mongodb+srv", "svc_orders", "cluster0.x7kqz.mongodb.net", "/orders?retryWrites=true&w=majority"),
            ("redis", "default", "redis-12345.c1.eu-central-1-1.ec2.cloud.redislabs.com", ":12345/0"),
            ("amqp", "worker", "rabbitmq.internal", ":5672/%2F"),
            ("postgres", "billing", "10.20.3.41", ":5432/billing")])
    else:
        scheme, user, host, tail = c.pick([
            ("https", "deploy", "registry.acme-corp.io", "/v2/"),
            ("https", "ci-bot", "nexus.initech.dev", "/repository/npm-private/"),
            ("https", "jenkins", "artifactory.globex.com", "/artifactory/api/pypi/simple"),
            ("ftp", "backup", "files.northwind-traders.com", "/nightly/")])
    pw = S(rng, family)
    if re.fullmatch(r"[\d.]+", host):
        inner = [pw, "@", N(host, "private-or-reserved-ip", "ip")]
    else:
        inner = [N([pw, "@" + host], "url-userinfo", "email")]
    return [f"{scheme}://{user}:"] + inner + [tail]


def url_placeholder_password(c):
    return c.pick(["postgres://app:${DB_PASSWORD}@db:5432/app", "postgres://postgres:<password>@localhost:5432/test",
                   "mysql://root:${MYSQL_ROOT_PASSWORD}@mysql:3306/shop", "redis://:${REDIS_PASSWORD}@redis:6379/0",
                   "postgresql://user:password@localhost/dbname", "mongodb://admin:changeme@localhost:27017"])


ENV_NAMES = {
    "aws-access-key-id": ["AWS_ACCESS_KEY_ID"], "aws-secret-key": ["AWS_SECRET_ACCESS_KEY"],
    "aws-session-token": ["AWS_SESSION_TOKEN"], "github-token": ["GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT"],
    "github-fine-grained-pat": ["GITHUB_TOKEN", "GH_PAT"], "gitlab-token": ["GITLAB_TOKEN", "GITLAB_PAT"],
    "slack-token": ["SLACK_BOT_TOKEN", "SLACK_TOKEN"], "slack-webhook": ["SLACK_WEBHOOK_URL"],
    "stripe-key": ["STRIPE_SECRET_KEY", "STRIPE_API_KEY"], "sendgrid": ["SENDGRID_API_KEY"],
    "twilio-auth-token": ["TWILIO_AUTH_TOKEN"], "openai-key": ["OPENAI_API_KEY"],
    "anthropic-key": ["ANTHROPIC_API_KEY"], "google-api-key": ["GOOGLE_API_KEY", "GOOGLE_MAPS_API_KEY", "FIREBASE_API_KEY"],
    "npm-token": ["NPM_TOKEN"], "pypi-token": ["PYPI_TOKEN", "TWINE_PASSWORD"], "hf-token": ["HF_TOKEN", "HUGGINGFACE_HUB_TOKEN"],
    "telegram-bot-token": ["TELEGRAM_BOT_TOKEN"], "jwt": ["AUTH_TOKEN", "SESSION_JWT", "ACCESS_TOKEN"],
    "password-assignment": ["DB_PASSWORD", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "ADMIN_PASSWORD", "SMTP_PASSWORD",
                            "MYSQL_ROOT_PASSWORD", "KEYCLOAK_ADMIN_PASSWORD"],
    "azure-storage-key": ["AZURE_STORAGE_KEY"],
}
CODE_VAR = {
    "password-assignment": ["password", "db_password", "admin_password", "smtp_pass", "passwd", "pwd"],
}
LINE_FAMILIES = [f for f in SECRET_FAMILIES if f not in ("private-key-pem", "openssh-private-key", "db-url-password", "url-password")]
SECRET_WEIGHTS = {"password-assignment": 4, "aws-access-key-id": 2, "aws-secret-key": 2, "github-token": 3, "openai-key": 3,
                  "anthropic-key": 2, "jwt": 2, "stripe-key": 2, "slack-token": 2}


def line_family(c):
    fams = LINE_FAMILIES
    return c.rng.choices(fams, [SECRET_WEIGHTS.get(f, 1) for f in fams])[0]


def env_secret_line(c, family=None):
    """`NAME=value` in a .env file, the value labelled."""
    family = family or line_family(c)
    if family == "azure-storage-key":
        return ["AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acmeprod"
                + digits(c.rng, 3) + ";AccountKey=", S(c.rng, family), ";EndpointSuffix=core.windows.net\n"]
    name = c.pick(ENV_NAMES[family])
    val = S(c.rng, family)
    q = c.pick(["", "", '"', "'"])
    pre = c.pick(["", "", "export "])
    return [f"{pre}{name}={q}", val, f"{q}\n"]


def env_negative_line(c):
    rng = c.rng
    k = rng.randrange(14)
    if k == 0:
        return [c.pick(["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "STRIPE_SECRET_KEY", "GITHUB_TOKEN"]), "=", placeholder(rng), "\n"]
    if k == 1:
        return ["AWS_ACCESS_KEY_ID=", N("AKIAIOSFODNN7EXAMPLE", "aws-documented-example", "secret"), "\n"]
    if k == 2:
        return ["AWS_SECRET_ACCESS_KEY=", N("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws-documented-example", "secret"), "\n"]
    if k == 3:
        return [c.pick(["DB_PASSWORD", "ADMIN_PASSWORD", "POSTGRES_PASSWORD"]), "=",
                N(c.pick(["changeme", "<password>", "${VAULT_DB_PASSWORD}", "CHANGE_ME", "password"]), "placeholder", "secret"), "\n"]
    if k == 4:
        return ["DATABASE_URL=", N(url_placeholder_password(c), "placeholder-url", "secret"), "\n"]
    if k == 5:
        return [f"PORT={c.pick(['3000', '8080', '5432', '8443'])}\nNODE_ENV={c.pick(['production', 'development'])}\n"]
    if k == 6:
        return [f"LOG_LEVEL={c.pick(['debug', 'info', 'warn'])}\nFEATURE_FLAGS=new_checkout,dark_mode\n"]
    if k == 7:
        return ["SENTRY_RELEASE=", N(rstr(rng, HEX, 40), "git-sha", "secret"), "\n"]
    if k == 8:
        return ["BUILD_ID=", uuid4(rng), "\n"]
    if k == 9:
        return ["REDIS_HOST=", ip_private(rng), "\nREDIS_PORT=6379\n"]
    if k == 10:
        return ["STRIPE_PUBLISHABLE_KEY=", N("pk_live_" + rstr(rng, B62, 24), "publishable-key", "secret"), "\n"]
    if k == 11:
        return ["APP_VERSION=", semver_or_v4(c, 0.4), "\n"]
    if k == 12:
        return ["CACHE_BUST=", md5hex(rng), "\n"]
    return ["GOOGLE_CLIENT_ID=", N(digits(rng, 12) + "-" + rstr(rng, "abcdefghijklmnopqrstuvwxyz0123456789", 32)
                                  + ".apps.googleusercontent.com", "oauth-client-id", "secret"), "\n"]


def code_secret(c, lang_style):
    """An assignment or call with a secret literal in source code."""
    fam = line_family(c)
    val = S(c.rng, fam)
    if fam == "password-assignment":
        var = c.pick(CODE_VAR[fam])
        if lang_style == "py":
            return c.pick([[f'{var} = "', val, '"\n'], [f'{var.upper()} = "', val, '"\n'],
                           ['conn = psycopg2.connect(host="db", user="app", password="', val, '")\n'],
                           ['    "PASSWORD": "', val, '",\n']])
        if lang_style == "js":
            return c.pick([[f"const {var} = '", val, "';\n"], ["  password: '", val, "',\n"]])
        if lang_style == "go":
            return [f'\t{var} := "', val, '"\n']
        if lang_style == "java":
            return ['    private static final String DB_PASSWORD = "', val, '";\n']
        return ['let password = "', val, '";\n']
    if fam in ("azure-storage-key",):
        return ['conn_str = "DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=', val, ';EndpointSuffix=core.windows.net"\n']
    env = c.pick(ENV_NAMES[fam])
    var = env.lower()
    if lang_style == "py":
        opts = [[f'{env} = "', val, '"\n'], [f'os.environ["{env}"] = "', val, '"\n'],
                [f'{var} = os.getenv("{env}", "', val, '")\n']]
        if fam == "openai-key":
            opts.append(['client = OpenAI(api_key="', val, '")\n'])
        if fam == "anthropic-key":
            opts.append(['client = anthropic.Anthropic(api_key="', val, '")\n'])
        if fam in ("jwt", "github-token", "hf-token"):
            opts.append(['headers = {"Authorization": "Bearer ', val, '"}\n'])
        if fam == "slack-webhook":
            opts.append(['requests.post("', val, '", json={"text": msg})\n'])
        return c.pick(opts)
    if lang_style == "js":
        camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), var)
        opts = [[f'const {camel} = "', val, '";\n'], [f"const {camel} = process.env.{env} || '", val, "';\n"]]
        if fam in ("openai-key", "jwt", "github-token", "anthropic-key"):
            opts.append(["  headers: { Authorization: `Bearer ", val, "` },\n"])
        if fam == "stripe-key":
            opts.append(["const stripe = require('stripe')('", val, "');\n"])
        return c.pick(opts)
    if lang_style == "go":
        return [f'const {var.title().replace("_", "")} = "', val, '"\n']
    if lang_style == "java":
        return [f'    private static final String {env} = "', val, '";\n']
    return [f'const {env}: &str = "', val, '";\n']


def code_secret_neg(c, lang_style):
    rng = c.rng
    if lang_style == "py":
        opts = [['password = os.environ["DB_PASSWORD"]\n'], ['api_key = os.getenv("OPENAI_API_KEY")\n'],
                ["password = getpass.getpass()\n"], ['token = None  # set via settings\n'],
                ['API_KEY = "', placeholder(rng), '"  # replace before running\n'],
                ['DEFAULT_PASSWORD = "', N("changeme", "placeholder", "secret"), '"\n'],
                ['PASSWORD_MIN_LENGTH = 12\n'], ['password_field = "', N("password", "field-name", "secret"), '"\n'],
                ['CACHE_KEY = "', sha256hex(rng), '"\n'], ['TRACE_ID = "', uuid4(rng), '"\n'],
                ['EXAMPLE_KEY = "', N(c.pick(AWS_EXAMPLE), "aws-documented-example", "secret"), '"\n'],
                ['message_id = "', api_object_id(rng), '"\n']]
    elif lang_style == "js":
        opts = [["const apiKey = process.env.OPENAI_API_KEY;\n"], ["const password = process.env.DB_PASSWORD ?? '';\n"],
                ["  integrity: '", sri(rng), "',\n"], ["const token = '", placeholder(rng), "'; // TODO\n"],
                ["const BUILD = '", git_sha(rng), "';\n"], ["const stripe = Stripe('", N("pk_live_" + rstr(rng, B62, 24), "publishable-key", "secret"), "');\n"]]
    else:
        opts = [['apiKey := os.Getenv("API_KEY")\n'], ['password := os.Getenv("DB_PASSWORD")\n'],
                ['const commit = "', git_sha(rng), '"\n'], ['var token = "', placeholder(rng), '"\n']]
    return c.pick(opts)


# ---------------------------------------------------------------- document builders

def build_chat(c):
    rng = c.rng
    items = []
    turns = rng.randint(2, 5)
    assistant_kinds = rng.sample(range(6), 3)
    for t in range(turns):
        role = "User" if t % 2 == 0 else "Assistant"
        items.append(f"{role}: ")
        parts = []
        if role == "User":
            k = rng.choices(range(12), [10, 7, 5, 4, 4, 6, 7, 3, 2, 4, 2, 4])[0]
            if k == 0:
                parts.append(T(c.pick(GT.CONTACT[c.lang]), email=email(rng, c.lang), phone=phone_for(rng, c.lang), name=c.name()))
            elif k == 1:
                parts.append(T(c.pick(GT.PAYMENT[c.lang]), iban=iban_for(rng, c.lang),
                               card=card(rng) if c.r() < 0.93 else test_card(rng), name=c.name()))
            elif k == 2:
                parts.append(T(c.pick(GT.SERVER[c.lang]), ip=ip(rng), priv=priv_or_doc(c)))
            elif k == 3:
                parts.append(T(c.pick(GT.VERSION[c.lang]), ver=N(version4(rng), "version-or-oid", "ip")))
            elif k == 4:
                parts.append(T(c.pick(GT.SSN_EN), ssn=ssn(rng), name=c.en_name()))
            elif k == 5:
                parts += [c.pick(GT.CODEQ[c.lang]), " ", profanity(c) if c.r() < 0.5 else prof_neg(c)]
            elif k == 6:
                parts += [harmful(c) if c.r() < 0.55 else harmful_neg(c)]
            elif k == 7:
                parts += [c.pick(GT.CODEQ[c.lang]), " ", pi_neg(c)]
            elif k == 8:
                parts += [L(c.pick(GT.PI_USER), "prompt-injection", "direct")]
            elif k == 9:
                parts += [c.pick(GT.CODEQ[c.lang]), "\n", "```\n", code_secret(c, c.pick(["py", "js"])), "```"]
            elif k == 10:
                parts += [c.pick(GT.CODEQ[c.lang]), " ", hidden_text(c) if c.r() < 0.6 else hidden_neg(c)]
            else:
                parts += [c.pick(GT.CODEQ[c.lang]), "\n"] + lookalikes(c, rng.randint(1, 3))
        else:
            k = assistant_kinds[t // 2]
            if k == 0:
                parts += ["I ran the tool. Result:\n", tool_result(c)]
            elif k == 1:
                parts += ["Here is the fix:\n```python\n", code_secret_neg(c, "py"), "```"]
            elif k == 2:
                parts += [c.pick(["Sure. ", "Done. ", "I checked the logs. "]), "\n"] + lookalikes(c, rng.randint(1, 3))
            elif k == 3:
                parts += ["You can kill the stuck process with `", N("kill -9 " + str(rng.randint(300, 65000)), "technical-violence-verb", "violence"),
                          "` and then re-run the migration."]
            elif k == 4:
                parts += ["The request came from ", ip(rng), " and was forwarded by ", priv_or_doc(c), "."]
            else:
                parts += ["I updated the contact in `fixtures/users.json` to ", email(rng, c.lang), "."]
        items += parts + ["\n"]
    return items


def tool_result(c):
    """A tool result the agent received: a fetched page, a file, a search hit."""
    rng = c.rng
    k = rng.randrange(5)
    if k == 0:
        return ["<html><body><h1>", c.pick(["Install guide", "Release notes", "API reference"]), "</h1>\n<p>",
                c.pick(GT.CODEQ["en"]), "</p>\n<!-- ", prompt_injection(c, "en"), " -->\n</body></html>"]
    if k == 1:
        return ['{"title": "', c.pick(["Fix flaky test", "Add retry", "Bump deps"]), '", "body": "',
                prompt_injection(c, c.pick(["en", "en", c.lang])), '", "author": "', email(rng, "en"), '"}']
    if k == 2:
        return ["README.md:\n## Setup\nRun `make dev`.\n", hidden_text(c), "\n"]
    if k == 3:
        return ["search results:\n1. ", c.pick(GT.CODEQ["en"]), "\n2. ", pi_neg(c), "\n"]
    return ["# ", c.pick(["utils.py", "config.ts"]), "\n# ", prompt_injection(c, c.pick(["en", c.lang])), "\n"]


def build_python(c):
    rng = c.rng
    items = ['"""', c.pick(["Billing helpers.", "Sync users from the CRM.", "Nightly export job.", "Webhook handlers."]), '"""\n',
             "import os\nimport requests\n\n"]
    if c.r() < 0.5:
        items += ["__author__ = \"", c.en_name() if c.lang == "en" else c.name(), " <", email(rng, c.lang, "work"), '>"\n']
    items += ['__version__ = "', semver_or_v4(c, 0.2), '"\n\n']
    for k in rng.sample(range(9), rng.randint(2, 5)):
        if k == 0:
            items += code_secret(c, "py")
        elif k == 1:
            items += code_secret_neg(c, "py")
        elif k == 2:
            items += ["TEST_USERS = [\n    {\"email\": \"", email(rng, c.lang), "\", \"phone\": \"", phone_for(rng, c.lang),
                      "\"},\n    {\"email\": \"", email_placeholder(rng), "\", \"phone\": \"", N("555-0100", "fictional-short-number", "phone"), "\"},\n]\n"]
        elif k == 3:
            items += ["# ", c.pick(GT.CODEQ[c.lang]), "\nALLOWED_IPS = [\"", ip(rng), "\", \"", priv_or_doc(c), "\"]\n"]
        elif k == 4:
            items += ["def test_refund():\n    assert refund(\"", card(rng), "\", amount=", str(rng.randint(1, 500)),
                      ")\n    assert not refund(\"", card_luhn_invalid(rng), "\", amount=1)\n"]
        elif k == 5:
            items += ["DB_URL = \"", url_with_password(c), "\"\n"]
        elif k == 6:
            items += ["# ", prompt_injection(c) if c.r() < 0.5 else pi_neg(c), "\n"]
        elif k == 7:
            items += ["PALETTE = [", N('"#1F77B4", "#FF7F0E", "#2CA02C"', "hex-colour", "secret"), "]\nRETRY_DELAYS = [",
                      N("1, 2, 4, 8, 16, 32", "array-literal", "phone"), "]\n"]
        else:
            items += ["IBAN_FIXTURE = \"", iban(rng), "\"\nSSN_FIXTURE = \"", ssn(rng, "dash"), "\"\n"]
        items.append("\n")
    items += ["\ndef main():\n    ", c.pick(["# kill the worker if it hangs\n    os.kill(pid, signal.SIGKILL)\n",
                                           "# execute the batch\n    run_batch()\n", "pass\n"])]
    return items


def build_js(c):
    rng = c.rng
    items = [c.pick(["import { Injectable } from '", "import express from '", "import { z } from '"]),
             N(c.pick(["@angular/core", "@nestjs/common", "@trpc/server", "@prisma/client"]), "npm-scoped-package", "email"), "';\n",
             c.pick(["@Injectable()\n", "@Component({ selector: 'app-root' })\n", ""]), "\n"]
    for k in rng.sample(range(7), rng.randint(2, 5)):
        if k == 0:
            items += code_secret(c, "js")
        elif k == 1:
            items += code_secret_neg(c, "js")
        elif k == 2:
            items += ["const supportEmail = '", email(rng, c.lang, "role"), "';\nconst hotline = '", phone(rng, "US"), "';\n"]
        elif k == 3:
            items += ["// ", c.pick(GT.CODEQ["en"]), "\nconst uuid = '", uuid4(rng), "';\nconst theme = { primary: ",
                      N("'#" + rstr(rng, "0123456789abcdef", 6) + "'", "hex-colour", "secret"), " };\n"]
        elif k == 4:
            items += ["fetch('https://api.example.net/v1/charge', { body: JSON.stringify({ card: '", card(rng), "', iban: '",
                      iban(rng), "' }) });\n"]
        elif k == 5:
            items += ["const MONGO = `", url_with_password(c, "db-url-password"), "`;\n"]
        else:
            items += ["/* ", hidden_text(c) if c.r() < 0.3 else hidden_neg(c), " */\n"]
    items.append("\nexport default app;\n")
    return items


def build_other_code(c):
    rng = c.rng
    style = c.pick(["go", "java", "rs"])
    items = {"go": ["package main\n\nimport \"os\"\n\n"], "java": ["package com.acme.billing;\n\n@Service\npublic class PaymentService {\n"],
             "rs": ["use std::net::Ipv6Addr;\nuse crate::config::Settings;\n\n"]}[style]
    for k in rng.sample(range(6), rng.randint(2, 4)):
        if k == 0:
            items += code_secret(c, style)
        elif k == 1:
            items += code_secret_neg(c, style)
        elif k == 2:
            items += [f"// contact: ", email(rng, c.lang, "work"), " / ", phone_for(rng, c.lang), "\n"]
        elif k == 3:
            items += ["// upstream ", ip(rng), " (fallback ", priv_or_doc(c), ")\n"]
        elif k == 4:
            items += ["// ", c.pick(["Kill", "Abort", "Execute"]), " the job when the deadline passes: ",
                      N(c.pick(["kill the process", "abort the transaction", "execute the rollback"]), "technical-violence-verb", "violence"), "\n"]
        else:
            items += ["// build ", git_sha(rng), " ", N(timestamp(rng), "timestamp", "phone"), "\n"]
    if style == "java":
        items.append("}\n")
    return items


def build_env(c):
    rng = c.rng
    items = [c.pick(["# .env\n", "# .env.production\n", "# copy to .env.local\n", ""])]
    for _ in range(rng.randint(3, 8)):
        r = c.r()
        if r < 0.45:
            items += env_secret_line(c)
        elif r < 0.55:
            items += ["DATABASE_URL=", url_with_password(c, "db-url-password"), "\n"]
        elif r < 0.62:
            items += ["ADMIN_EMAIL=", email(rng, c.lang, "work"), "\n"]
        elif r < 0.66:
            items += ["SUPPORT_PHONE=", phone(rng, "US", national=False), "\n"]
        elif r < 0.7:
            items += ["EGRESS_IP=", ipv4(rng), "\n"]
        else:
            items += env_negative_line(c)
    return items


def build_log(c):
    rng = c.rng
    items = []
    style = c.pick(["app", "nginx", "auth", "payment", "k8s"])
    for _ in range(rng.randint(3, 9)):
        ts = N(timestamp(rng, c.pick([0, 1])), "timestamp", "phone")
        if style == "nginx":
            src = ip(rng) if c.r() < 0.6 else priv_or_doc(c)
            ua = c.pick(["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36",
                         "curl/8.4.0", "python-requests/2.31.0", "Go-http-client/1.1", "kube-probe/1.28"])
            items += [src, " - - [", N(timestamp(rng, 4), "timestamp", "phone"), "] \"", c.pick(["GET", "POST"]), " ",
                      c.pick(["/api/v1/users", "/healthz", "/login", "/static/app.3f9a2b1c.js", "/api/v1/orders/" + digits(rng, 6)]),
                      " HTTP/1.1\" ", c.pick(["200", "301", "404", "500"]), " ", str(rng.randint(100, 90000)), " \"-\" \"", ua, "\"\n"]
        elif style == "auth":
            src = ip(rng) if c.r() < 0.6 else priv_or_doc(c)
            items += [ts, " sshd[", str(rng.randint(1000, 60000)), "]: ", c.pick(["Failed password for root", "Accepted publickey for deploy",
                                                                                    "Invalid user admin"]),
                      " from ", src, " port ", str(rng.randint(1024, 65535)), " ssh2\n"]
        elif style == "payment":
            r = c.r()
            if r < 0.35:
                items += [ts, " ERROR charge failed card=", card(rng, fmt="plain"), " customer=", email(rng, c.lang), " code=card_declined\n"]
            elif r < 0.55:
                items += [ts, " INFO charge ok card=", N("**** **** **** " + digits(rng, 4), "masked-card", "card"),
                          " amount=", str(rng.randint(100, 99999)), " id=", api_object_id(rng), "\n"]
            elif r < 0.7:
                items += [ts, " WARN payout iban=", iban(rng, grouped=False), " status=pending\n"]
            elif r < 0.8:
                items += [ts, " DEBUG order=", N(numeric_id(rng, 16), "numeric-id", "card"), " total=", str(rng.randint(1, 999)), ".",
                          digits(rng, 2), "\n"]
            else:
                items += [ts, " ERROR Luhn check failed for ", card_luhn_invalid(rng), "\n"]
        elif style == "k8s":
            r = c.r()
            if r < 0.3:
                items += [ts, " pod/api-", rstr(rng, "abcdefghijklmnopqrstuvwxyz0123456789", 10), " OOMKilled, restarting (",
                          N("the kubelet killed the container", "technical-violence-verb", "violence"), ")\n"]
            elif r < 0.6:
                items += [ts, " image=ghcr.io/acme/api@", N("sha256:" + rstr(rng, HEX, 64), "image-digest", "secret"), " node=",
                          ip_private(rng), "\n"]
            else:
                items += [ts, " level=info msg=\"", c.pick(["probe ok", "scaling up", "leader elected"]), "\" trace_id=",
                          N(rstr(rng, HEX, 32), "trace-id", "secret"), "\n"]
        else:
            r = c.r()
            if r < 0.25:
                items += [ts, " INFO user login email=", email(rng, c.lang), " ip=", ip(rng), "\n"]
            elif r < 0.35:
                items += [ts, " INFO password reset requested for ", email(rng, c.lang), " (", c.pick(GT.CODEQ[c.lang]), ")\n"]
            elif r < 0.45:
                items += [ts, " WARN sms to ", phone_for(rng, c.lang, national=False), " failed: rate limited\n"]
            elif r < 0.55:
                items += [ts, " DEBUG outbound request Authorization: Bearer ",
                          S(rng, c.pick(["jwt", "openai-key", "github-token", "anthropic-key"])), "\n"]
            elif r < 0.65:
                items += [ts, " ERROR could not connect to ", url_with_password(c, "db-url-password"), ": timeout\n"]
            else:
                items += [ts, " INFO request_id=", uuid4(rng), " duration_ms=", str(rng.randint(1, 5000)), " version=",
                          semver_or_v4(c, 0.3), "\n"]
    return items


def build_json(c):
    rng = c.rng
    k = rng.randrange(7)
    if k == 0:
        users = []
        for _ in range(rng.randint(1, 3)):
            u = ['  {"id": "', uuid4(rng), '", "name": "', c.name(), '", "email": "', email(rng, c.lang), '", "phone": "',
                 phone_for(rng, c.lang), '"']
            if c.r() < 0.35:
                u += [', "ssn": "', ssn(rng), '"']
            if c.r() < 0.35:
                u += [', "iban": "', iban_for(rng, c.lang), '"']
            if c.r() < 0.3:
                u += [', "last_ip": "', ip(rng), '"']
            if c.r() < 0.3:
                u += [', "created_at": "', N(timestamp(rng, 0), "timestamp", "phone"), '"']
            users.append(u + ["}"])
        items = ['{"users": [\n']
        for i, u in enumerate(users):
            items += u + ([",\n"] if i < len(users) - 1 else ["\n"])
        return items + ['], "next_cursor": "', b64blob(rng, 18), '"}\n']
    if k == 1:
        return ['{\n  "name": "', N(c.pick(["@acme/ui-kit", "@globex/sdk", "@initech/cli"]), "npm-scoped-package", "email"),
                '",\n  "version": "', str(rng.randint(0, 9)), ".", str(rng.randint(0, 30)), ".", str(rng.randint(0, 30)),
                '",\n  "author": "', c.en_name(), " <", email(rng, "en", "work"), '>",\n  "repository": "',
                N("git@github.com:acme/ui-kit.git", "git-ssh-remote", "email"), '",\n  "dependencies": {"',
                N("@types/react", "npm-scoped-package", "email"), '": "^18.2.0"}\n}\n']
    if k == 2:
        fam = c.pick(["aws-secret-key", "aws-session-token"])
        return ['{\n    "Credentials": {\n        "AccessKeyId": "', S(rng, "aws-access-key-id"), '",\n        "SecretAccessKey": "',
                S(rng, "aws-secret-key"), '",\n        "SessionToken": "', S(rng, "aws-session-token"),
                '",\n        "Expiration": "', N(timestamp(rng, 0), "timestamp", "phone"), '"\n    },\n    "AssumedRoleUser": {"Arn": "arn:aws:sts::',
                N(numeric_id(rng, 12), "aws-account-id", "phone"), ':assumed-role/deploy/ci"}\n}\n']
    if k == 3:
        return ['{\n  "type": "service_account",\n  "project_id": "acme-prod-', digits(rng, 4), '",\n  "private_key_id": "',
                N(rstr(rng, HEX, 40), "key-id", "secret"), '",\n  "private_key": "', pem_block(rng, "PRIVATE KEY", escaped=True),
                '\\n",\n  "client_email": "', L("deployer@acme-prod-" + digits(rng, 4) + ".iam.gserviceaccount.com", "email", "service-account", optional=True),
                '",\n  "client_id": "', N(numeric_id(rng, 21), "numeric-id", "card"), '"\n}\n']
    if k == 4:
        return ['{"tool": "web_fetch", "result": {"url": "https://docs.', c.pick(WORKDOM), '/setup", "content": "',
                c.pick(GT.CODEQ["en"]), " ", prompt_injection(c, c.pick(["en", "en", c.lang])) if c.r() < 0.7 else pi_neg(c), '"}}\n']
    if k == 5:
        return ['{"id": "', api_object_id(rng), '", "object": "charge", "amount": ', str(rng.randint(100, 99999)),
                ', "payment_method_details": {"card": {"brand": "visa", "last4": "', digits(rng, 4), '", "fingerprint": "',
                N(rstr(rng, B62, 16), "fingerprint", "secret"), '"}}, "billing_details": {"email": "', email(rng, c.lang),
                '", "phone": "', phone_for(rng, c.lang, national=False), '"}, "receipt_number": "', N(digits(rng, 4) + "-" + digits(rng, 4), "receipt-number", "phone"), '"}\n']
    return ['{"config": {"apiKey": "', S(rng, "google-api-key"), '", "authDomain": "acme-', digits(rng, 3),
            '.firebaseapp.com", "messagingSenderId": "', N(numeric_id(rng, 12), "numeric-id", "phone"), '", "appId": "1:',
            N(numeric_id(rng, 12), "numeric-id", "phone"), ':web:', N(rstr(rng, HEX, 22), "app-id", "secret"), '"}}\n']


def build_stack(c):
    rng = c.rng
    k = rng.randrange(4)
    if k == 0:
        return ["Traceback (most recent call last):\n  File \"/app/billing/charge.py\", line ", str(rng.randint(10, 900)),
                ", in charge\n    resp = stripe.Charge.create(card=card_number)\n  File \"/usr/lib/python3.11/site-packages/stripe/api.py\", line ",
                str(rng.randint(10, 900)), ", in create\nstripe.error.CardError: Your card was declined. (card_number='", card(rng),
                "', email='", email(rng, c.lang), "')\n"]
    if k == 1:
        return ["Exception in thread \"main\" org.postgresql.util.PSQLException: FATAL: password authentication failed for user \"app\"\n",
                "\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:", str(rng.randint(100, 800)),
                ")\n\tat com.acme.db.Pool.connect(Pool.java:", str(rng.randint(10, 200)), ")\nCaused by: java.net.ConnectException: jdbc url ",
                url_with_password(c, "db-url-password"), "\n"]
    if k == 2:
        return ["Error: connect ECONNREFUSED ", priv_or_doc(c), ":", str(rng.randint(1000, 9999)),
                "\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)\n  errno: -111,\n  address: '",
                ip(rng) if c.r() < 0.5 else priv_or_doc(c), "',\n  requestId: '", uuid4(rng), "'\n}\n"]
    return ["thread 'main' panicked at src/handlers/user.rs:", str(rng.randint(10, 400)), ":", str(rng.randint(1, 80)),
            ":\ncalled `Result::unwrap()` on an `Err` value: InvalidPhone(\"", phone_for(rng, c.lang), "\")\nnote: run with `RUST_BACKTRACE=1`",
            " (build ", git_sha(rng, short=True), ")\n"]


def build_markdown(c):
    rng = c.rng
    items = ["# ", c.pick(["Setup", "Contributing", "Bug report", "Deployment notes", "Einrichtung", "Installation", "セットアップ"]), "\n\n"]
    for k in rng.sample(range(9), rng.randint(2, 5)):
        if k == 0:
            items += ["Set your key in `.env`:\n\n```\nOPENAI_API_KEY=", placeholder(rng), "\n```\n"]
        elif k == 1:
            items += ["Maintainers: ", c.name(), " (", email(rng, c.lang), "), ", c.en_name(), " (@", c.pick(["octocat", "jdoe", "mk"]), ")\n"]
        elif k == 2:
            items += ["Clone with `git clone ", N("git@github.com:" + c.pick(["acme", "globex", "initech"]) + "/" + c.pick(["api", "web", "infra"]) + ".git", "git-ssh-remote", "email"),
                      "` and deploy with `ssh ", N(c.pick(["deploy", "ubuntu", "ec2-user"]) + "@" + c.pick(["bastion.acme-corp.io", "build-01.internal.globex.com", "app.hooli.xyz"]), "ssh-user-at-host", "email"), "`.\n"]
        elif k == 3:
            items += ["<!-- ", prompt_injection(c), " -->\n"]
        elif k == 4:
            items += [c.pick(GT.CODEQ[c.lang]), " ", hidden_text(c) if c.r() < 0.5 else hidden_neg(c), "\n"]
        elif k == 5:
            items += ["| host | address |\n|---|---|\n| edge | ", ip(rng), " |\n| db | ", ip_private(rng), " |\n| docs | ", ip_doc(rng), " |\n"]
        elif k == 6:
            items += ["Report from ", c.name(), ": ", T(c.pick(GT.CONTACT[c.lang]), email=email(rng, c.lang), phone=phone_for(rng, c.lang), name=c.name()), "\n"]
        elif k == 7:
            items += ["Requires ", version_neg(c), " and `", N(c.pick(["@Override", "@pytest.fixture", "@media (max-width: 600px)", "@import url(theme.css)"]), "at-annotation", "email"), "`.\n"]
        else:
            items += ["> ", prof_neg(c) if c.r() < 0.6 else profanity(c), "\n"]
        items.append("\n")
    return items


def build_yaml(c):
    rng = c.rng
    k = rng.randrange(4)
    if k == 0:
        return ["services:\n  api:\n    image: ghcr.io/acme/api:", N(version4(rng), "version-or-oid", "ip"),
                "\n    environment:\n      - DATABASE_URL=", url_with_password(c, "db-url-password"),
                "\n      - ", T("⟦v⟧=${⟦v⟧}", v=c.pick(["OPENAI_API_KEY", "STRIPE_SECRET_KEY"])),
                "\n      - POSTGRES_PASSWORD=", S(rng, "password-assignment"), "\n    ports:\n      - \"",
                N("8080:8080", "port-mapping", "ip"), "\"\n"]
    if k == 1:
        return ["on: [push]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@",
                N(rstr(rng, HEX, 40), "git-sha", "secret"), "\n      - run: npm publish\n        env:\n          NODE_AUTH_TOKEN: ",
                N("${{ secrets.NPM_TOKEN }}", "placeholder", "secret"), "\n          SLACK_WEBHOOK: ", S(rng, "slack-webhook"), "\n"]
    if k == 2:
        return ["apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  uid: ", uuid4(rng), "\ndata:\n  ADMIN_CONTACT: \"",
                email(rng, c.lang, "work"), "\"\n  UPSTREAM: \"", ip(rng), "\"\n  CLUSTER_DNS: \"", ip_private(rng), "\"\n  DB_PASSWORD: \"",
                S(rng, "password-assignment"), "\"\n"]
    return ["smtp:\n  host: smtp.sendgrid.net\n  user: apikey\n  password: ", S(rng, "sendgrid"), "\n  from: ",
            email(rng, c.lang, "role"), "\nadmin:\n  password: ", N(c.pick(["{{ .Values.admin.password }}", "${ADMIN_PASSWORD}", "changeme"]), "placeholder", "secret"), "\n"]


def build_sql(c):
    rng = c.rng
    items = ["INSERT INTO customers (id, name, email, phone, iban, card_number, ssn) VALUES\n"]
    rows = rng.randint(1, 4)
    for i in range(rows):
        items += ["  (", str(rng.randint(1, 99999)), ", '", c.name().replace("'", "''"), "', '", email(rng, c.lang), "', '",
                  phone_for(rng, c.lang), "', '", iban_for(rng, c.lang), "', '", card(rng) if c.r() < 0.8 else card_luhn_invalid(rng), "', ",
                  (["'", ssn(rng), "'"] if c.r() < 0.5 else ["NULL"]), ")", ",\n" if i < rows - 1 else ";\n"]
    items += ["-- ", c.pick(GT.CODEQ[c.lang]), "\nSELECT * FROM sessions WHERE ip = '", ip(rng), "' OR ip = '", ip_private(rng),
              "' AND created_at > '", N(timestamp(rng, 1), "timestamp", "phone"), "';\n"]
    if c.r() < 0.3:
        items += ["CREATE USER reporting WITH PASSWORD '", S(rng, "password-assignment"), "';\n"]
    return items


def build_shell(c):
    rng = c.rng
    items = []
    for k in rng.sample(range(11), rng.randint(3, 7)):
        if k == 0:
            fam = c.pick(["openai-key", "anthropic-key", "jwt", "github-token", "hf-token", "gitlab-token"])
            hdr = "x-api-key: " if fam == "anthropic-key" and c.r() < 0.5 else "Authorization: Bearer "
            url = {"openai-key": "api.openai.com/v1/models", "anthropic-key": "api.anthropic.com/v1/messages",
                   "jwt": c.pick(["api.acme-corp.io/v2/me", "auth.globex.com/userinfo"]), "github-token": "api.github.com/user",
                   "hf-token": "huggingface.co/api/whoami-v2", "gitlab-token": "gitlab.com/api/v4/user"}[fam]
            items += ['curl -s https://', url, ' -H "', hdr, S(rng, fam), '"\n']
        elif k == 1:
            items += ["git clone ", N("git@github.com:" + c.pick(["acme/api", "globex/web", "initech/infra"]) + ".git", "git-ssh-remote", "email"), "\n"]
        elif k == 2:
            items += ["git remote set-url origin https://x-access-token:", N([S(rng, "github-token"), "@github.com"], "url-userinfo", "email"),
                      "/acme/api.git\n"]
        elif k == 3:
            items += ["ssh -i ~/.ssh/id_ed25519 ", N(c.pick(["ubuntu", "deploy", "root"]) + "@" + c.pick(["bastion.acme-corp.io", "ci.globex.com", "app.hooli.xyz"]), "ssh-user-at-host", "email"), "\n"]
        elif k == 4:
            items += ["ssh root@", ip(rng), "\n"]
        elif k == 5:
            items += [N("kill -9 " + str(rng.randint(300, 65000)), "technical-violence-verb", "violence"), " && ", N("pkill -f celery", "technical-violence-verb", "violence"), "\n"]
        elif k == 6:
            items += env_secret_line(c)
        elif k == 7:
            var = c.pick(["OPENAI_API_KEY", "GITHUB_TOKEN"])
            items += ["docker run -e ", var, "=", N(c.pick(["$" + var, "${" + var + "}", "$(pass show ci/token)"]), "placeholder", "secret"),
                      " -p ", N("5432:5432", "port-mapping", "ip"), " postgres:16\n"]
        elif k == 8:
            items += ["psql \"", url_with_password(c, "db-url-password"), "\"\n"]
        elif k == 9:
            items += ["echo '", ssh_pubkey(rng, c.pick(["alice@laptop", "ci@runner", "deploy@build-01"])), "' >> ~/.ssh/authorized_keys\n"]
        else:
            kind, fname = c.pick([("OPENSSH PRIVATE KEY", "~/.ssh/id_ed25519"), ("RSA PRIVATE KEY", "~/.ssh/id_rsa"),
                                  ("EC PRIVATE KEY", "certs/server.key"), ("PRIVATE KEY", "deploy/tls.key")])
            items += [f"cat {fname}\n", pem_block(rng, kind), "\n"]
    return items


def build_gitlog(c):
    rng = c.rng
    items = []
    for _ in range(rng.randint(1, 3)):
        items += ["commit ", git_sha(rng), "\nAuthor: ", c.name(), " <", email(rng, c.lang, c.pick(["work", "personal", "role"])),
                  ">\nDate:   ", N(timestamp(rng, 1), "timestamp", "phone"), " +0200\n\n    ", c.pick(["Fix retry", "Add export", "Bump deps", "Remove debug log"]), "\n\n"]
        if c.r() < 0.4:
            items += ["    Signed-off-by: ", c.en_name(), " <", email(rng, "en", "work"), ">\n"]
    items += ["diff --git a/config/settings.py b/config/settings.py\nindex ", git_sha(rng, short=True), "..", git_sha(rng, short=True),
              " 100644\n--- a/config/settings.py\n+++ b/config/settings.py\n@@ -10,3 +10,4 @@\n"]
    items += ["-"] + code_secret_neg(c, "py") + ["+"] + code_secret(c, "py")
    return items


def build_csv(c):
    rng = c.rng
    items = ["id,name,email,phone,iban,card,signup_ip,created\n"]
    for _ in range(rng.randint(2, 6)):
        items += [str(rng.randint(1, 99999)), ",", c.name(), ",", email(rng, c.lang), ",", phone_for(rng, c.lang), ",",
                  iban_for(rng, c.lang) if c.r() < 0.6 else "", ",", card(rng) if c.r() < 0.5 else "", ",",
                  ip(rng) if c.r() < 0.6 else ip_private(rng), ",", N(timestamp(rng, 0), "timestamp", "phone"), "\n"]
    return items


def build_config(c):
    rng = c.rng
    k = rng.randrange(5)
    if k == 0:
        return ["[default]\naws_access_key_id = ", S(rng, "aws-access-key-id"), "\naws_secret_access_key = ", S(rng, "aws-secret-key"),
                "\nregion = eu-central-1\n\n[example]\naws_access_key_id = ", N("AKIAIOSFODNN7EXAMPLE", "aws-documented-example", "secret"),
                "\naws_secret_access_key = ", N("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws-documented-example", "secret"), "\n"]
    if k == 1:
        return ["registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=", S(rng, "npm-token"),
                "\n@acme:registry=https://npm.pkg.github.com\n//npm.pkg.github.com/:_authToken=", S(rng, "github-token"), "\n"]
    if k == 2:
        return ["[distutils]\nindex-servers = pypi\n\n[pypi]\n  username = __token__\n  password = ", S(rng, "pypi-token"), "\n"]
    if k == 3:
        return ["[package]\nname = \"sluice-client\"\nversion = \"0.", str(rng.randint(1, 20)), ".", str(rng.randint(0, 9)),
                "\"\nauthors = [\"", c.en_name(), " <", email(rng, "en", "work"), ">\"]\n\n[dependencies]\nserde = \"1.0.197\"\n\n# go.sum\n",
                "golang.org/x/net v0.21.0 ", gosum_hash(rng), "\n"]
    return ["[user]\n\tname = ", c.name(), "\n\temail = ", email(rng, c.lang), "\n[credential]\n\thelper = store\n[url \"https://oauth2:",
            N([S(rng, "gitlab-token"), "@gitlab.com"], "url-userinfo", "email"), "/\"]\n\tinsteadOf = https://gitlab.com/\n"]


def build_email_msg(c):
    rng = c.rng
    sender = email(rng, c.lang)
    items = ["From: ", c.name(), " <", sender, ">\nTo: ", email(rng, "en", "role"), "\nReceived: from mail-", digits(rng, 3),
             ".outbound.example-mx.net ([", ipv4(rng), "]) by mx.", c.pick(WORKDOM), "\nMessage-ID: <",
             L(rstr(rng, HEX, 16) + "." + digits(rng, 10) + "@mail.gmail.com", "email", "message-id", optional=True), ">\nSubject: ",
             {"de": "Rechnung", "fr": "Facture", "es": "Factura", "ja": "請求書", "zh": "发票", "ru": "Счёт", "ar": "فاتورة",
              "pt": "Fatura"}.get(c.lang, "Invoice"), "\n\n"]
    items += [T(c.pick(GT.PAYMENT[c.lang]), iban=iban_for(rng, c.lang), card=card(rng), name=c.name()), "\n",
              T(c.pick(GT.CONTACT[c.lang]), email=email(rng, c.lang), phone=phone_for(rng, c.lang), name=c.name()), "\n"]
    if c.r() < 0.25:
        items += ["\n", prompt_injection(c), "\n"]
    return items


BUILDERS = [  # source, builder, weight
    ("chat", build_chat, 24), ("python-source", build_python, 8), ("js-source", build_js, 6),
    ("code", build_other_code, 5), ("env-file", build_env, 7), ("log", build_log, 10), ("json", build_json, 9),
    ("stack-trace", build_stack, 5), ("markdown", build_markdown, 7), ("yaml", build_yaml, 4), ("sql", build_sql, 3),
    ("shell", build_shell, 5), ("git-log", build_gitlog, 3), ("csv", build_csv, 2), ("config", build_config, 3),
    ("email", build_email_msg, 3),
]
