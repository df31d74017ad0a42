#!/usr/bin/env python3
"""Prints the table of the secrets plugin's formats for docs/guardrails.md
("Formats covered"), one row per rule of plugins/secrets/rules.toml:

    python3 eval/rules_table.py > /tmp/table.md   # then paste it over the old table

The plugin's unit tests check that every rule id appears in the docs.
"""
import os
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "plugins", "secrets", "rules.toml")
with open(path, "rb") as f:
    rules = tomllib.load(f)["rules"]



def top_branches(reg):
    """The top-level alternatives of a regex."""
    out=[]; depth=0; cls=False; esc=False; cur=''
    for ch in reg:
        if esc: cur+=ch; esc=False; continue
        if ch=='\\': cur+=ch; esc=True; continue
        if cls:
            if ch==']': cls=False
            cur+=ch; continue
        if ch=='[': cls=True
        elif ch=='(': depth+=1
        elif ch==')': depth-=1
        elif ch=='|' and depth==0: out.append(cur); cur=''; continue
        cur+=ch
    out.append(cur); return out
rows=[]
for r in rules:
    reg=r['regex']
    if r.get('generic'):
        how="an assignment to a name that says what the value is (loose: loses to every rule above)"
    else:
        b=top_branches(reg)
        named=[('(?&assign)' in x) for x in b]
        if all(named): how="next to a name that says whose it is"
        elif any(named): how="its prefix and shape, or next to its name"
        else: how="its prefix and shape" if r['keywords'] else "its shape"
    if r.get('validate'):
        how += f", then a `{r['validate']}` check"
    if r.get('entropy'):
        how += f"; entropy ≥ {r['entropy']}"
    kws=", ".join(f"`{k}`" for k in r['keywords'][:4]) + (", ..." if len(r['keywords'])>4 else "")
    title=r['title'].replace('|','\\|')
    rows.append(f"| `{r['id']}` | {title} | {r.get('action','redact')} | {how} | {kws} |")
print("| rule | format | action | how it is found | keywords |")
print("|---|---|---|---|---|")
print("\n".join(rows))
