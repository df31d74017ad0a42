"""Value generators and validators for the evaluation corpus (stdlib only).

Every generator takes the shared `random.Random` and returns an `Ann`: a piece of
text with what it is (a labelled kind and family, or a negative category and the
kind it looks like). Positives are random fakes that are valid for their format;
negatives are built so that they are *not* valid (a Luhn-invalid number, a private
address, a documented example key) or are valid-looking text that is not an
instance of the kind by the conventions of eval/README.md.
"""

import base64
import hashlib
import ipaddress
import json
import string
import zlib

B62 = string.ascii_letters + string.digits
B64 = string.ascii_letters + string.digits + "+/"
B64URL = string.ascii_letters + string.digits + "-_"
HEX = "0123456789abcdef"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class Ann:
    """Text with an annotation. `items` is a str, an Ann, or a list of them."""

    __slots__ = ("items", "kind", "family", "optional", "neg", "looks")

    def __init__(self, items, kind=None, family=None, optional=False, neg=None, looks=None):
        self.items = items
        self.kind = kind
        self.family = family
        self.optional = optional
        self.neg = neg
        self.looks = looks


def L(items, kind, family, optional=False):
    return Ann(items, kind=kind, family=family, optional=optional)


def N(items, category, looks):
    return Ann(items, neg=category, looks=looks)


def flat(x):
    """The plain text of items."""
    if isinstance(x, str):
        return x
    if isinstance(x, Ann):
        return flat(x.items)
    return "".join(flat(i) for i in x)


# ---------------------------------------------------------------- validators

def luhn_ok(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_digit(partial):
    """The check digit that makes partial+digit Luhn-valid."""
    for d in "0123456789":
        if luhn_ok(partial + d):
            return d
    raise AssertionError


def card_brand(digits):
    n = len(digits)
    p = lambda k: int(digits[:k])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if n == 16 and (51 <= p(2) <= 55 or 2221 <= p(4) <= 2720):
        return "mastercard"
    if n == 15 and p(2) in (34, 37):
        return "amex"
    if 16 <= n <= 19 and 3528 <= p(4) <= 3589:
        return "jcb"
    if n == 14 and (300 <= p(3) <= 305 or p(2) in (36, 38, 39)):
        return "diners"
    if 16 <= n <= 19 and (p(4) == 6011 or p(2) == 65 or 644 <= p(3) <= 649):
        return "discover"
    if 16 <= n <= 19 and p(2) == 62:
        return "unionpay"
    if 12 <= n <= 19 and p(2) in (50, 56, 57, 58, 63, 67):
        return "maestro"
    return None


IBAN_LEN = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}


def _iban_num(s):
    return int("".join(str(int(c, 36)) for c in s))


def iban_ok(text):
    c = text.replace(" ", "")
    if len(c) < 5 or c[:2] not in IBAN_LEN or len(c) != IBAN_LEN[c[:2]]:
        return False
    if not c.isalnum() or c != c.upper():
        return False
    return _iban_num(c[4:] + c[:4]) % 97 == 1


def iban_check(country, bban):
    return "%02d" % (98 - _iban_num(bban + country + "00") % 97)


def ssn_ok(text):
    d = "".join(ch for ch in text if ch.isdigit())
    if len(d) != 9:
        return False
    a, g, s = int(d[:3]), int(d[3:5]), int(d[5:])
    return a not in (0, 666) and a < 900 and g != 0 and s != 0


DOC_NETS = [ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]


def ip_public(text):
    a = ipaddress.ip_address(text)
    if any(a in n for n in DOC_NETS if n.version == a.version):
        return False
    if a.is_multicast or a.is_private or a.is_loopback or a.is_link_local or a.is_reserved:
        return False
    if a.version == 4 and (a.packed[0] == 0 or a.packed[0] >= 224):
        return False
    return a.is_global


# ---------------------------------------------------------------- helpers

def pick(rng, seq):
    return seq[rng.randrange(len(seq))]


def rstr(rng, alphabet, n):
    return "".join(alphabet[rng.randrange(len(alphabet))] for _ in range(n))


def digits(rng, n):
    return rstr(rng, "0123456789", n)


def b62encode(n, width):
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[r] + out
    return out.rjust(width, "0")


def b64url_nopad(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# ---------------------------------------------------------------- names, e-mail

FIRST = {
    "en": ["james", "emily", "michael", "sarah", "david", "olivia", "daniel", "grace", "ryan", "chloe",
           "nathan", "megan", "tyler", "hannah", "aaron", "laura", "kevin", "rachel", "brandon", "amy"],
    "de": ["lukas", "sophie", "jonas", "lena", "felix", "marie", "maximilian", "anna", "tobias", "katrin",
           "jürgen", "jörg", "björn", "sören"],
    "fr": ["julien", "camille", "antoine", "manon", "nicolas", "chloé", "thomas", "léa", "hugo", "élodie",
           "mathieu", "inès"],
    "es": ["carlos", "lucía", "javier", "marta", "pablo", "sofía", "alejandro", "carmen", "diego", "elena"],
    "ja": ["hiroshi", "yuki", "takeshi", "sakura", "kenji", "haruka", "daisuke", "aoi", "sho", "misaki"],
    "zh": ["wei", "li", "jing", "hao", "xiaoming", "fang", "lei", "yan", "chen", "ming"],
    "ru": ["dmitri", "olga", "sergei", "natalia", "ivan", "ekaterina", "alexei", "svetlana", "pavel", "irina"],
    "ar": ["ahmed", "fatima", "omar", "layla", "youssef", "mariam", "khalid", "noor", "hassan", "sara"],
    "pt": ["joao", "ana", "pedro", "beatriz", "lucas", "mariana", "rafael", "camila", "gabriel", "larissa"],
}
LAST = {
    "en": ["smith", "johnson", "walker", "nguyen", "patel", "obrien", "harris", "clarke", "bennett", "foster"],
    "de": ["mueller", "schmidt", "schneider", "fischer", "weber", "wagner", "becker", "hoffmann", "schäfer", "krüger"],
    "fr": ["martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau"],
    "es": ["garcia", "fernandez", "lopez", "martinez", "sanchez", "perez", "gomez", "ruiz", "diaz", "moreno"],
    "ja": ["tanaka", "suzuki", "takahashi", "watanabe", "ito", "yamamoto", "nakamura", "kobayashi", "kato", "sato"],
    "zh": ["wang", "li", "zhang", "liu", "chen", "yang", "zhao", "huang", "zhou", "wu"],
    "ru": ["ivanov", "smirnova", "kuznetsov", "popova", "volkov", "sokolova", "lebedev", "kozlova", "novikov", "morozova"],
    "ar": ["alsayed", "hassan", "khalil", "mansour", "haddad", "nasser", "farouk", "saleh", "aziz", "karim"],
    "pt": ["silva", "santos", "oliveira", "souza", "pereira", "costa", "rodrigues", "almeida", "nascimento", "lima"],
}
DISPLAY = {
    "en": ["James Walker", "Emily Clarke", "Sarah Nguyen", "Daniel Patel", "Megan O'Brien"],
    "de": ["Lukas Müller", "Sophie Schäfer", "Jörg Weber", "Lena Krüger", "Tobias Fischer"],
    "fr": ["Julien Dubois", "Chloé Martin", "Élodie Moreau", "Hugo Leroy", "Léa Petit"],
    "es": ["Lucía García", "Javier López", "Sofía Martínez", "Diego Ruiz", "Marta Gómez"],
    "ja": ["田中 浩", "鈴木 由紀", "高橋 健二", "佐藤 桜", "伊藤 大輔"],
    "zh": ["王伟", "李静", "张浩", "刘芳", "陈明"],
    "ru": ["Дмитрий Иванов", "Ольга Смирнова", "Сергей Кузнецов", "Наталья Попова", "Иван Волков"],
    "ar": ["أحمد السيد", "فاطمة حسن", "عمر خليل", "ليلى منصور", "يوسف حداد"],
    "pt": ["João Silva", "Ana Santos", "Pedro Oliveira", "Beatriz Costa", "Lucas Almeida"],
}
FREEMAIL = {
    "en": ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "hotmail.co.uk", "aol.com"],
    "de": ["gmx.de", "web.de", "t-online.de", "posteo.de", "gmail.com", "mailbox.org"],
    "fr": ["orange.fr", "free.fr", "laposte.net", "sfr.fr", "gmail.com", "wanadoo.fr"],
    "es": ["gmail.com", "hotmail.es", "yahoo.es", "telefonica.net", "outlook.es"],
    "ja": ["yahoo.co.jp", "docomo.ne.jp", "gmail.com", "ezweb.ne.jp", "nifty.com"],
    "zh": ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "aliyun.com"],
    "ru": ["mail.ru", "yandex.ru", "rambler.ru", "bk.ru", "gmail.com", "list.ru"],
    "ar": ["gmail.com", "hotmail.com", "yahoo.com", "outlook.sa", "emirates.net.ae"],
    "pt": ["gmail.com", "uol.com.br", "bol.com.br", "terra.com.br", "hotmail.com", "sapo.pt"],
}
WORKDOM = ["acme-corp.io", "globex.com", "initech.dev", "northwind-traders.com", "fabrikam.fr",
           "umbrella-labs.co.uk", "stark-industries.net", "wayne-ent.com", "hooli.xyz", "piedpiper.ai",
           "contoso-group.de", "tyrell.tech", "cyberdyne.systems", "soylent.co", "vandelay.io",
           "massive-dynamic.org", "aperture-science.eu", "oscorp.app", "dunder-mifflin.biz",
           "blue-sun.cloud", "zorg-industries.fr", "kaiba-corp.jp", "weyland.com.au", "monarch.network"]
IDN_ADDR = ["jörg.schäfer@gmx.de", "élodie.moreau@orange.fr", "søren@firma.dk", "françois@société-générale.fr",
            "иван.петров@почта.рф", "müller@bäckerei-müller.de", "josé.núñez@correo.es",
            "ana.conceição@sapo.pt", "björn@schweden-möbel.se", "zoë.clarke@café-union.co.uk"]
ROLE = ["support", "billing", "noreply", "security", "admin", "hr", "sales", "info", "ops", "devops", "jobs"]


def _romanize(s):
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "ê": "e",
                           "ë": "e", "à": "a", "â": "a", "ç": "c", "î": "i", "ï": "i", "ô": "o",
                           "û": "u", "ù": "u", "í": "i", "ó": "o", "ú": "u", "ñ": "n", "á": "a",
                           "ã": "a", "õ": "o", "ø": "o"})
    return s.translate(table)


def email(rng, lang="en", family=None):
    r = rng.random()
    if family is None:
        family = "idn" if r < 0.05 else ("role" if r < 0.15 else ("work" if r < 0.55 else "personal"))
    if family == "idn":
        return L(pick(rng, IDN_ADDR), "email", "idn")
    fl = FIRST.get(lang, FIRST["en"])
    la = LAST.get(lang, LAST["en"])
    f, l = _romanize(pick(rng, fl)), _romanize(pick(rng, la))
    if family == "role":
        local = pick(rng, ROLE)
        return L(local + "@" + pick(rng, WORKDOM), "email", "role")
    style = rng.randrange(8)
    local = [f + "." + l, f[0] + l, f + "_" + l, f + l[0] + digits(rng, 2), f + "." + l + digits(rng, 1),
             f + "+" + pick(rng, ["github", "news", "test", "shop", "dev"]), l + "." + f, f + "-" + l][style]
    dom = pick(rng, WORKDOM) if family == "work" else pick(rng, FREEMAIL.get(lang, FREEMAIL["en"]))
    if family == "work" and rng.random() < 0.2:
        dom = pick(rng, ["eu", "us", "mail", "corp", "dev"]) + "." + dom
    if rng.random() < 0.05:
        local = local.capitalize()
    return L(local + "@" + dom, "email", family)


def email_placeholder(rng):
    return L(pick(rng, ["user@example.com", "you@example.com", "john.doe@example.com", "test@example.org",
                        "alice@example.net", "admin@example.com"]), "email", "placeholder", optional=True)


# ---------------------------------------------------------------- phone

US_AREA = ["212", "415", "617", "312", "206", "512", "303", "404", "646", "718", "213", "305", "702",
           "202", "571", "919", "480", "612", "503", "858", "214", "917", "347", "650", "408"]


def _nanp_exchange(rng):
    while True:
        e = str(rng.randint(2, 9)) + digits(rng, 2)
        if e[1:] != "11" and e != "555":
            return e


def phone(rng, country=None, national=None):
    """A phone number; family = '<cc>-intl' or '<cc>-national' (or 'us')."""
    if country is None:
        country = pick(rng, ["US", "US", "US", "UK", "DE", "FR", "JP", "IN", "BR", "ES", "RU", "CN", "AE"])
    if national is None:
        national = rng.random() < 0.3
    c = country
    if c in ("US", "CA"):
        a, e, n = pick(rng, US_AREA), _nanp_exchange(rng), digits(rng, 4)
        fmt = rng.randrange(8)
        text = [f"({a}) {e}-{n}", f"{a}-{e}-{n}", f"{a}.{e}.{n}", f"+1 {a} {e} {n}", f"+1-{a}-{e}-{n}",
                f"1-{a}-{e}-{n}", f"+1 ({a}) {e}-{n}", f"+1{a}{e}{n}"][fmt]
        return L(text, "phone", "us")
    if c == "UK":
        if rng.random() < 0.5:  # London landline
            sub = str(rng.randint(3, 8)) + digits(rng, 3) + " " + digits(rng, 4)
            text = f"020 {sub}" if national else pick(rng, [f"+44 20 {sub}", f"+44 (0)20 {sub}"])
        else:  # mobile
            sub = "7" + str(rng.randint(4, 9)) + digits(rng, 2) + " " + digits(rng, 6)
            text = f"0{sub}" if national else f"+44 {sub}"
        return L(text, "phone", "uk-" + ("national" if national else "intl"))
    if c == "DE":
        if rng.random() < 0.5:
            city = pick(rng, ["30", "40", "89", "69", "221", "211", "711"])
            sub = str(rng.randint(2, 9)) + digits(rng, rng.randint(5, 7))
            if national:
                text = pick(rng, [f"0{city} {sub}", f"0{city}/{sub}", f"0{city}-{sub}"])
            else:
                text = pick(rng, [f"+49 {city} {sub}", f"+49 (0){city} {sub}", f"+49-{city}-{sub}"])
        else:
            pre = pick(rng, ["151", "152", "160", "170", "171", "172", "176", "157"])
            sub = digits(rng, 8)
            text = f"0{pre} {sub}" if national else pick(rng, [f"+49 {pre} {sub}", f"+49{pre}{sub}"])
        return L(text, "phone", "de-" + ("national" if national else "intl"))
    if c == "FR":
        first = pick(rng, ["1", "2", "3", "4", "5", "6", "7", "9"])
        pairs = [digits(rng, 2) for _ in range(4)]
        if national:
            sep = pick(rng, [" ", " ", "."])
            text = "0" + first + sep + sep.join(pairs)
        else:
            text = "+33 " + first + " " + " ".join(pairs)
        return L(text, "phone", "fr-" + ("national" if national else "intl"))
    if c == "JP":
        if rng.random() < 0.5:
            text = ("03-" if national else "+81 3-") + digits(rng, 4) + "-" + digits(rng, 4)
        else:
            m = pick(rng, ["90", "80", "70"])
            text = (f"0{m}-" if national else pick(rng, [f"+81 {m}-", f"+81-{m}-"])) + digits(rng, 4) + "-" + digits(rng, 4)
        return L(text, "phone", "jp-" + ("national" if national else "intl"))
    if c == "IN":
        mob = str(rng.randint(6, 9)) + digits(rng, 4)
        rest = digits(rng, 5)
        text = f"0{mob} {rest}" if national else pick(rng, [f"+91 {mob} {rest}", f"+91-{mob}{rest}", f"+91 {mob}{rest}"])
        return L(text, "phone", "in-" + ("national" if national else "intl"))
    if c == "BR":
        ddd = pick(rng, ["11", "21", "31", "41", "51", "61", "71", "81"])
        sub = "9" + digits(rng, 4) + "-" + digits(rng, 4)
        text = f"({ddd}) {sub}" if national else pick(rng, [f"+55 {ddd} {sub}", f"+55 ({ddd}) {sub}"])
        return L(text, "phone", "br-" + ("national" if national else "intl"))
    if c == "ES":
        first = pick(rng, ["6", "7", "91", "93"])
        rest = digits(rng, 9 - len(first))
        body = first + rest
        grouped = f"{body[:3]} {body[3:5]} {body[5:7]} {body[7:]}"
        text = grouped if national else "+34 " + grouped
        return L(text, "phone", "es-" + ("national" if national else "intl"))
    if c == "RU":
        text = (("8 " if national else "+7 ") + "9" + digits(rng, 2) + " " + digits(rng, 3) + "-"
                + digits(rng, 2) + "-" + digits(rng, 2))
        return L(text, "phone", "ru-" + ("national" if national else "intl"))
    if c == "CN":
        body = "1" + pick(rng, ["3", "5", "8", "9"]) + digits(rng, 9)
        text = (f"{body[:3]} {body[3:7]} {body[7:]}" if national
                else pick(rng, [f"+86 {body[:3]} {body[3:7]} {body[7:]}", f"+86-{body}", f"+86 {body}"]))
        return L(text, "phone", "cn-" + ("national" if national else "intl"))
    if c == "AE":
        text = ("05" if national else "+971 5") + pick(rng, ["0", "2", "5", "6"]) + " " + digits(rng, 3) + " " + digits(rng, 4)
        return L(text, "phone", "ae-" + ("national" if national else "intl"))
    raise ValueError(c)


LANG_COUNTRY = {"en": ["US", "US", "US", "UK", "IN"], "de": ["DE"], "fr": ["FR"], "es": ["ES"], "ja": ["JP"],
                "zh": ["CN"], "ru": ["RU"], "ar": ["AE"], "pt": ["BR"]}


def phone_for(rng, lang, national=None):
    return phone(rng, pick(rng, LANG_COUNTRY.get(lang, ["US"])), national)


# ---------------------------------------------------------------- cards

CARD_SPECS = [  # brand, prefixes, lengths, weight
    ("visa", ["4"], [16, 16, 16, 16, 13, 19], 30),
    ("mastercard", ["51", "52", "53", "54", "55", "2221", "2300", "2500", "2720"], [16], 25),
    ("amex", ["34", "37"], [15], 12),
    ("discover", ["6011", "65", "644", "649"], [16], 8),
    ("jcb", ["3528", "3530", "3566", "3589"], [16], 6),
    ("diners", ["300", "305", "36", "38"], [14], 5),
    ("unionpay", ["62"], [16, 19], 6),
    ("maestro", ["5018", "5020", "5038", "6304", "6759", "6761"], [16, 19], 4),
]
TEST_CARDS = ["4111111111111111", "4242424242424242", "5555555555554444", "378282246310005",
              "6011111111111117", "4000056655665556", "5105105105105100"]


def _card_digits(rng, brand=None):
    specs = CARD_SPECS
    if brand:
        specs = [s for s in CARD_SPECS if s[0] == brand]
    weights = [s[3] for s in specs]
    spec = rng.choices(specs, weights)[0]
    while True:
        pre = pick(rng, spec[1])
        if pre == "2221":
            pre = str(rng.randint(2221, 2720))
        n = pick(rng, spec[2])
        body = pre + digits(rng, n - len(pre) - 1)
        d = body + luhn_digit(body)
        if d not in TEST_CARDS and card_brand(d) == spec[0]:
            return spec[0], d


def format_card(rng, d, fmt=None):
    n = len(d)
    if fmt is None:
        fmt = rng.choices(["space", "dash", "plain"], [5, 2, 3])[0]
    if fmt == "plain" or n == 13:  # 13-digit Visa numbers have no customary grouping
        return d
    sep = " " if fmt == "space" else "-"
    if n == 15:
        groups = [d[:4], d[4:10], d[10:]]
    elif n == 14:
        groups = [d[:4], d[4:10], d[10:]]
    else:
        groups = [d[i:i + 4] for i in range(0, n, 4)]
    return sep.join(groups)


def card(rng, brand=None, fmt=None):
    b, d = _card_digits(rng, brand)
    return L(format_card(rng, d, fmt), "card", b)


def test_card(rng):
    d = pick(rng, TEST_CARDS)
    return L(format_card(rng, d), "card", "test-number", optional=True)


def card_luhn_invalid(rng):
    _, d = _card_digits(rng)
    bad = d[:-1] + str((int(d[-1]) + rng.randint(1, 9)) % 10)
    assert not luhn_ok(bad)
    return N(format_card(rng, bad), "luhn-invalid-number", "card")


def numeric_id(rng, n):
    """n random digits that are not a Luhn-valid number of a card brand."""
    while True:
        d = str(rng.randint(1, 9)) + digits(rng, n - 1)
        if not (card_brand(d) and luhn_ok(d)):
            return d


# ---------------------------------------------------------------- IBAN

GB_BANKS = ["NWBK", "BARC", "LOYD", "HBUK", "MIDL", "NAIA", "CITI"]
NL_BANKS = ["ABNA", "INGB", "RABO", "TRIO", "SNSB", "KNAB", "BUNQ"]
IE_BANKS = ["AIBK", "BOFI", "IPBS"]


def _fr_rib_key(bank, branch, account):
    conv = {}
    for i, ch in enumerate("ABCDEFGHI"):
        conv[ch] = str(i + 1)
    for i, ch in enumerate("JKLMNOPQR"):
        conv[ch] = str(i + 1)
    for i, ch in enumerate("STUVWXYZ"):
        conv[ch] = str(i + 2)
    acc = "".join(conv.get(ch, ch) for ch in account)
    return "%02d" % (97 - (89 * int(bank) + 15 * int(branch) + 3 * int(acc)) % 97)


def _es_dc(rng):
    w = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]

    def dc(ten):
        d = 11 - sum(int(a) * b for a, b in zip(ten, w)) % 11
        return {11: 0, 10: 1}.get(d, d)

    bank, branch, acc = digits(rng, 4), digits(rng, 4), digits(rng, 10)
    return bank + branch + str(dc("00" + bank + branch)) + str(dc(acc)) + acc


def _bban(rng, cc):
    if cc == "DE":
        return str(rng.randint(1, 8)) + digits(rng, 7) + digits(rng, 10)
    if cc == "GB":
        return pick(rng, GB_BANKS) + digits(rng, 6) + digits(rng, 8)
    if cc == "IE":
        return pick(rng, IE_BANKS) + digits(rng, 6) + digits(rng, 8)
    if cc == "FR":
        bank, branch, acc = digits(rng, 5), digits(rng, 5), digits(rng, 11)
        return bank + branch + acc + _fr_rib_key(bank, branch, acc)
    if cc == "ES":
        return _es_dc(rng)
    if cc == "IT":
        return rng.choice(string.ascii_uppercase) + digits(rng, 5) + digits(rng, 5) + digits(rng, 12)
    if cc == "NL":
        while True:
            acc = digits(rng, 10)
            if sum(int(a) * b for a, b in zip(acc, range(10, 0, -1))) % 11 == 0:
                return pick(rng, NL_BANKS) + acc
    if cc == "CH":
        return digits(rng, 5) + digits(rng, 12)
    if cc == "AT":
        return digits(rng, 5) + digits(rng, 11)
    if cc == "BE":
        ten = digits(rng, 10)
        chk = int(ten) % 97 or 97
        return ten + "%02d" % chk
    if cc == "PL":
        return digits(rng, 8) + digits(rng, 16)
    if cc == "SE":
        return digits(rng, 3) + digits(rng, 17)
    if cc == "PT":
        return digits(rng, 21)
    if cc == "DK":
        return digits(rng, 14)
    if cc == "NO":
        return digits(rng, 11)
    if cc == "LU":
        return digits(rng, 3) + digits(rng, 13)
    if cc == "FI":
        return digits(rng, 14)
    if cc == "SA":
        return digits(rng, 2) + digits(rng, 18)
    if cc == "AE":
        return digits(rng, 3) + digits(rng, 16)
    if cc == "BR":
        return digits(rng, 8) + digits(rng, 5) + digits(rng, 10) + "C" + "1"
    raise ValueError(cc)


IBAN_COUNTRIES = ["DE", "DE", "GB", "FR", "ES", "IT", "NL", "CH", "AT", "BE", "PL", "SE", "IE", "PT", "DK",
                  "NO", "LU", "FI", "SA", "AE", "BR"]
LANG_IBAN = {"de": ["DE", "DE", "AT", "CH"], "fr": ["FR", "FR", "BE", "LU", "CH"], "es": ["ES"], "pt": ["PT", "BR"],
             "ar": ["SA", "AE"], "en": ["GB", "IE", "NL", "DE"], "ru": ["DE", "FI"], "ja": ["GB", "DE"],
             "zh": ["GB", "DE"]}


def group4(s):
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


def iban(rng, cc=None, grouped=None):
    if cc is None:
        cc = pick(rng, IBAN_COUNTRIES)
    bban = _bban(rng, cc)
    full = cc + iban_check(cc, bban) + bban
    assert len(full) == IBAN_LEN[cc], (cc, full)
    if grouped is None:
        grouped = rng.random() < 0.55
    return L(group4(full) if grouped else full, "iban", cc)


def iban_for(rng, lang):
    return iban(rng, pick(rng, LANG_IBAN.get(lang, IBAN_COUNTRIES)))


def iban_bad(rng):
    full = flat(iban(rng, grouped=False))
    while True:
        i = rng.randrange(4, len(full))
        ch = full[i]
        if ch.isdigit():
            new = full[:i] + str((int(ch) + rng.randint(1, 9)) % 10) + full[i + 1:]
            if not iban_ok(new):
                break
    return N(group4(new) if rng.random() < 0.5 else new, "iban-bad-checksum", "iban")


# ---------------------------------------------------------------- SSN

def ssn_digits(rng):
    while True:
        a = rng.randint(1, 899)
        if a != 666:
            break
    return "%03d%02d%04d" % (a, rng.randint(1, 99), rng.randint(1, 9999))


def ssn(rng, fmt=None):
    d = ssn_digits(rng)
    if fmt is None:
        fmt = rng.choices(["dash", "space", "bare"], [85, 8, 7])[0]
    text = {"dash": f"{d[:3]}-{d[3:5]}-{d[5:]}", "space": f"{d[:3]} {d[3:5]} {d[5:]}", "bare": d}[fmt]
    return L(text, "ssn", "ssn-" + fmt)


def ssn_invalid(rng):
    kind = rng.randrange(5)
    a, g, s = "%03d" % rng.randint(1, 899), "%02d" % rng.randint(1, 99), "%04d" % rng.randint(1, 9999)
    if kind == 0:
        a = "000"
    elif kind == 1:
        a = "666"
    elif kind == 2:
        a = str(rng.randint(900, 999))
    elif kind == 3:
        g = "00"
    else:
        s = "0000"
    text = f"{a}-{g}-{s}"
    assert not ssn_ok(text)
    return N(text, "ssn-never-issued", "ssn")


# ---------------------------------------------------------------- IP

V6_PREFIXES = ["2001:4860", "2a00:1450", "2606:4700", "2a03:2880", "2604:a880", "2a01:4f8", "2a02:8108",
               "2400:cb00", "2804:14c", "2c0f:f248", "2001:67c", "2a0e:97c0", "2600:1f18", "2406:da00",
               "2a05:d014", "240e:3b7"]


def ipv4_public_text(rng):
    while True:
        a = rng.randint(1, 223)
        t = f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        if ip_public(t):
            return t


def ipv4(rng):
    return L(ipv4_public_text(rng), "ip", "ipv4")


def ipv6(rng):
    while True:
        pre = pick(rng, V6_PREFIXES)
        style = rng.randrange(3)
        groups = pre.split(":")
        if style == 0:
            rest = [format(rng.randrange(65536), "x") for _ in range(8 - len(groups))]
            text = str(ipaddress.ip_address(":".join(groups + rest)))
        elif style == 1:
            rest = [format(rng.randrange(65536), "x") for _ in range(2)]
            text = ":".join(groups + rest) + "::" + format(rng.randrange(1, 65536), "x")
        else:
            rest = [format(rng.randrange(65536), "x") for _ in range(8 - len(groups))]
            text = ":".join(groups + rest)
        if ip_public(text):
            return L(text, "ip", "ipv6")


def ip(rng):
    return ipv4(rng) if rng.random() < 0.75 else ipv6(rng)


def ip_private(rng):
    r = rng.randrange(14)
    t = [f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
         f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
         f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
         "127.0.0.1", "0.0.0.0", "169.254.169.254", f"169.254.{rng.randint(1, 254)}.{rng.randint(1, 254)}",
         f"100.{rng.randint(64, 127)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
         "255.255.255.0", "255.255.255.255", "224.0.0.251", "::1",
         pick(rng, ["fe80::1", "fe80::" + format(rng.randrange(65536), "x") + ":" + format(rng.randrange(65536), "x") + ":"
                    + format(rng.randrange(65536), "x") + ":" + format(rng.randrange(65536), "x")]),
         "fd" + format(rng.randrange(256), "02x") + ":" + format(rng.randrange(65536), "x") + "::" + format(rng.randrange(1, 999), "x")][r]
    assert not ip_public(t), t
    return N(t, "private-or-reserved-ip", "ip")


def ip_doc(rng):
    t = pick(rng, [f"192.0.2.{rng.randint(1, 254)}", f"198.51.100.{rng.randint(1, 254)}",
                   f"203.0.113.{rng.randint(1, 254)}", f"2001:db8::{rng.randint(1, 255)}",
                   f"2001:db8:{format(rng.randrange(65536), 'x')}::{rng.randint(1, 99)}"])
    assert not ip_public(t)
    return N(t, "documentation-ip", "ip")


def version4(rng):
    """A four-part version number that parses as a public IPv4 address."""
    while True:
        t = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 12)}.{rng.randint(0, 99)}"
        try:
            if ip_public(t):
                return t
        except ValueError:
            pass


# ---------------------------------------------------------------- look-alikes

def uuid4(rng):
    h = rstr(rng, HEX, 32)
    h = h[:12] + "4" + h[13:16] + pick(rng, "89ab") + h[17:]
    return N(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", "uuid", "secret")


def git_sha(rng, short=False):
    n = pick(rng, [7, 8, 10, 12]) if short else 40
    return N(rstr(rng, HEX, n), "git-sha-short" if short else "git-sha", "secret")


def sha256hex(rng):
    return N(rstr(rng, HEX, 64), "sha256", "secret")


def md5hex(rng):
    return N(rstr(rng, HEX, 32), "md5", "secret")


def b64blob(rng, n=None):
    raw = bytes(rng.randrange(256) for _ in range(n or rng.randint(24, 90)))
    return N(base64.b64encode(raw).decode(), "base64-blob", "secret")


def sri(rng):
    raw = bytes(rng.randrange(256) for _ in range(64))
    return N("sha512-" + base64.b64encode(raw).decode(), "integrity-hash", "secret")


def gosum_hash(rng):
    raw = bytes(rng.randrange(256) for _ in range(32))
    return N("h1:" + base64.b64encode(raw).decode(), "go-sum-hash", "secret")


def ulid(rng):
    return rstr(rng, "0123456789ABCDEFGHJKMNPQRSTVWXYZ", 26)


def api_object_id(rng):
    """Ids that look like keys but are not credentials."""
    r = rng.randrange(8)
    t = ["msg_01" + rstr(rng, B62, 22), "toolu_01" + rstr(rng, B62, 22), "chatcmpl-" + rstr(rng, B62, 29),
         "cus_" + rstr(rng, B62, 14), "ch_3" + rstr(rng, B62, 23), "pi_3" + rstr(rng, B62, 23),
         "req_" + rstr(rng, B62, 24), "evt_1" + rstr(rng, B62, 23)][r]
    return N(t, "api-object-id", "secret")


AWS_EXAMPLE = ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIAI44QH8DHBEXAMPLE",
               "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"]

PLACEHOLDERS = ["YOUR_API_KEY", "<your-api-key>", "<your-token>", "${OPENAI_API_KEY}", "$GITHUB_TOKEN",
                "{{ secrets.NPM_TOKEN }}", "sk-...", "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "xoxb-your-bot-token", "changeme", "********",
                "REPLACE_ME", "<redacted>", "[REDACTED]", "your-secret-here", "xxxxxxxx", "TODO",
                "sk-ant-...", "AIza...", "<API_KEY>", "%API_KEY%", "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
                "dummy", "insert-key-here", "$(cat /run/secrets/api_key)"]


def placeholder(rng):
    return N(pick(rng, PLACEHOLDERS), "placeholder", "secret")


def timestamp(rng, style=None):
    y, mo, d = rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28)
    h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    ms = rng.randint(0, 999)
    style = rng.randrange(5) if style is None else style
    t = [f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{ms:03d}Z", f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}",
         f"{y}{mo:02d}{d:02d}{h:02d}{mi:02d}{s:02d}", str(rng.randint(1600000000000, 1760000000000)),
         f"{d:02d}/{['Jan','Feb','Mar','Apr','May','Jun','Jul','Aug','Sep','Oct','Nov','Dec'][mo-1]}/{y}:{h:02d}:{mi:02d}:{s:02d} +0000"][style]
    return t


# ---------------------------------------------------------------- secrets

def _gh(rng, prefix):
    body = rstr(rng, B62, 30)
    return prefix + body + b62encode(zlib.crc32(body.encode()), 6)


def secret_value(rng, family):
    """A fake secret of `family`, valid for the family's format."""
    f = family
    if f == "aws-access-key-id":
        return pick(rng, ["AKIA", "AKIA", "AKIA", "ASIA"]) + rstr(rng, B32, 16)
    if f == "aws-secret-key":
        return rstr(rng, B64, 40)
    if f == "aws-session-token":
        raw = b"\x0f\x0a\x06origin" + bytes(rng.randrange(256) for _ in range(rng.randint(200, 300)))
        return "IQoJb3JpZ2luX2Vj" + base64.b64encode(raw).decode()[16:]
    if f == "github-token":
        return _gh(rng, pick(rng, ["ghp_", "ghp_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"]))
    if f == "github-fine-grained-pat":
        return "github_pat_11" + rstr(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 20) + "_" + rstr(rng, B62, 59)
    if f == "gitlab-token":
        return pick(rng, ["glpat-", "glpat-", "glptt-", "gldt-"]) + rstr(rng, B62 + "-_", 20)
    if f == "slack-token":
        if rng.random() < 0.6:
            return f"xoxb-{digits(rng, 12)}-{digits(rng, 13)}-{rstr(rng, B62, 24)}"
        return f"xoxp-{digits(rng, 12)}-{digits(rng, 12)}-{digits(rng, 13)}-{rstr(rng, HEX, 32)}"
    if f == "slack-webhook":
        return (f"https://hooks.slack.com/services/T{rstr(rng, B32[:26] + '0123456789', 8)}/"
                f"B{rstr(rng, B32[:26] + '0123456789', 10)}/{rstr(rng, B62, 24)}")
    if f == "stripe-key":
        return pick(rng, ["sk_live_", "sk_live_", "rk_live_"]) + pick(rng, [rstr(rng, B62, 24), "51" + rstr(rng, B62, 97)])
    if f == "sendgrid":
        return "SG." + rstr(rng, B64URL, 22) + "." + rstr(rng, B64URL, 43)
    if f == "twilio-auth-token":
        return rstr(rng, HEX, 32)
    if f == "openai-key":
        r = rng.random()
        if r < 0.3:
            return "sk-" + rstr(rng, B62, 20) + "T3BlbkFJ" + rstr(rng, B62, 20)
        n = rng.randint(40, 74)
        pre = "sk-proj-" if r < 0.85 else "sk-svcacct-"
        return pre + rstr(rng, B64URL, n) + "T3BlbkFJ" + rstr(rng, B64URL, n)
    if f == "anthropic-key":
        return "sk-ant-api03-" + rstr(rng, B64URL, 93) + "AA"
    if f == "google-api-key":
        return "AIza" + rstr(rng, B64URL, 35)
    if f == "npm-token":
        return "npm_" + rstr(rng, B62, 36)
    if f == "pypi-token":
        return "pypi-AgEIcHlwaS5vcmc" + "CJ" + rstr(rng, B64URL, rng.randint(130, 170))
    if f == "hf-token":
        return "hf_" + rstr(rng, string.ascii_letters, 34)
    if f == "azure-storage-key":
        return base64.b64encode(bytes(rng.randrange(256) for _ in range(64))).decode()
    if f == "telegram-bot-token":
        return digits(rng, 10) + ":AA" + rstr(rng, B64URL, 33)
    if f == "jwt":
        alg = pick(rng, ["HS256", "HS256", "RS256", "ES256"])
        hdr = b64url_nopad(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
        iat = rng.randint(1700000000, 1760000000)
        payload = {"sub": pick(rng, [str(rng.randint(1000, 99999)), "user_" + rstr(rng, B62, 10)]),
                   "iat": iat, "exp": iat + pick(rng, [900, 3600, 86400])}
        if rng.random() < 0.5:
            payload["role"] = pick(rng, ["admin", "user", "service"])
        pl = b64url_nopad(json.dumps(payload, separators=(",", ":")).encode())
        sig = rstr(rng, B64URL, {"HS256": 43, "RS256": 342, "ES256": 86}[alg])
        return f"{hdr}.{pl}.{sig}"
    if f in ("db-url-password", "url-password"):
        return rstr(rng, B62, rng.randint(12, 28)) if rng.random() < 0.6 else human_password(rng, url_safe=True)
    if f == "password-assignment":
        return human_password(rng)
    raise ValueError(f)


PW_WORDS = ["Summer", "Winter", "Dragon", "Monkey", "Sunshine", "Falcon", "Tiger", "Coffee", "Rocket", "Maple",
            "Purple", "Thunder", "Galaxy", "Panther", "Orange", "Silver", "Kaffee", "Sonne", "Soleil", "Verano"]


def human_password(rng, url_safe=False):
    specials = "-_.~!*" if url_safe else "!$%^&*-_+=.?~@"
    r = rng.random()
    if r < 0.4:
        return pick(rng, PW_WORDS) + str(rng.randint(1990, 2025)) + rng.choice(specials)
    if r < 0.6:
        w = pick(rng, PW_WORDS)
        leet = w.replace("o", "0").replace("e", "3").replace("a", "4").replace("i", "1")
        return leet + rng.choice(specials) + digits(rng, rng.randint(2, 4))
    return rstr(rng, B62 + specials, rng.randint(14, 24))


def pem_block(rng, kind=None, escaped=False):
    kind = kind or pick(rng, ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    if kind == "OPENSSH PRIVATE KEY":
        head = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
        body = head + rstr(rng, B64, 70 * rng.randint(4, 6) - len(head))
        width = 70
    else:
        head = {"RSA PRIVATE KEY": "MIIEpAIBAAKCAQEA", "PRIVATE KEY": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
                "EC PRIVATE KEY": "MHcCAQEEI"}[kind]
        nlines = 4 if kind == "EC PRIVATE KEY" else rng.randint(8, 25)
        body = head + rstr(rng, B64, 64 * nlines - len(head) - 4) + rstr(rng, B64, 2) + "=="
        width = 64
    lines = [body[i:i + width] for i in range(0, len(body), width)]
    nl = "\\n" if escaped else "\n"
    text = f"-----BEGIN {kind}-----" + nl + nl.join(lines) + nl + f"-----END {kind}-----"
    fam = "openssh-private-key" if kind == "OPENSSH PRIVATE KEY" else "private-key-pem"
    return L(text, "secret", fam)


def public_pem(rng):
    kind = pick(rng, ["PUBLIC KEY", "CERTIFICATE"])
    head = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" if kind == "PUBLIC KEY" else "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa"
    body = head + rstr(rng, B64, 64 * rng.randint(5, 9) - len(head) - 2) + "=="
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return N(f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----", "public-key-or-cert", "secret")


def ssh_pubkey(rng, comment):
    if rng.random() < 0.5:
        k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + rstr(rng, B64, 43)
    else:
        k = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ" + rstr(rng, B64, 500) + "="
    return [N(k, "ssh-public-key", "secret"), " " + comment]


SECRET_FAMILIES = ["aws-access-key-id", "aws-secret-key", "aws-session-token", "github-token",
                   "github-fine-grained-pat", "gitlab-token", "slack-token", "slack-webhook", "stripe-key",
                   "sendgrid", "twilio-auth-token", "openai-key", "anthropic-key", "google-api-key", "npm-token",
                   "pypi-token", "hf-token", "azure-storage-key", "telegram-bot-token", "jwt", "db-url-password",
                   "url-password", "password-assignment", "private-key-pem", "openssh-private-key"]


def S(rng, family):
    return L(secret_value(rng, family), "secret", family)


def sha256_of(s):
    return hashlib.sha256(s.encode()).hexdigest()
