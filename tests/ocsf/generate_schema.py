#!/usr/bin/env python3
"""Builds JSON Schemas for the OCSF event classes Vigil emits, from the ocsf-schema
repository's own files (events/, objects/, profiles/, dictionary.json, categories.json).

The Rust tests (shared/tests/ocsf.rs) validate every document Vigil produces against the
schemas this writes, so a mapping is checked against the published schema rather than
against our own expectations.

Compilation follows the OCSF schema compiler (ocsf/ocsf-schema-compiler, legacy mode):
  * attribute-level "$include" (profiles) and attribute-detail "$include" are merged
    under the item's own attributes; attributes a profile brings are marked with it;
  * "extends" is flattened parent first, the child's attribute details winning;
  * class_uid = category uid * 1000 + class uid; class_uid and category_uid are the
    class's one value; type_uid enumerates class_uid * 100 + every activity_id;
  * each attribute is the dictionary's definition deep-merged with the item's
    (so class enums add to the dictionary's, e.g. 0 Unknown and 99 Other);
  * attributes of profiles not applied are dropped ("profile": null keeps one);
  * the observable object's type_id enumerates every observable type the schema assigns;
  * the JSON Schema encoding follows the OCSF server's export (lib/schema/json_schema.ex):
    every object closed (additionalProperties false) unless it defines no attributes,
    "required" from requirement "required", constraints just_one as oneOf and
    at_least_one as anyOf, enums on integer and string attributes, objects by $ref.
It is stricter than the server's export where the dictionary is precise: type_uid (a
long) is enumerated too, and derived types keep their regex, max_len and range.

Objects are emitted once each under $defs and referenced, so recursive objects
(process.parent_process, user.groups ...) need no depth limit: every object reachable
from the class is checked at any depth.

Usage:
  generate_schema.py --git-dir PATH/ocsf-schema/.git --ref 1.8.0 [--out DIR]
  generate_schema.py --schema-dir PATH/ocsf-schema [--out DIR]
"""
import argparse
import copy
import json
import os
import subprocess
import sys

# The classes Vigil emits, by name, with the file each is written to.
CLASSES = {
    "detection_finding": "detection_finding_2004.json",
    "authentication": "authentication_3002.json",
    "account_change": "account_change_3001.json",
    "api_activity": "api_activity_6003.json",
    "base_event": "base_event_0.json",
}
# Profiles Vigil's documents apply (metadata.profiles); none today.
PROFILES: list[str] = []


class Source:
    """The schema files of one version: a checkout or a git ref."""

    def __init__(self, schema_dir=None, git_dir=None, ref=None):
        self.schema_dir, self.git_dir, self.ref = schema_dir, git_dir, ref

    def files(self, folder):
        if self.schema_dir:
            out = []
            for root, _, names in os.walk(os.path.join(self.schema_dir, folder)):
                for n in names:
                    full = os.path.join(root, n)
                    out.append(os.path.relpath(full, self.schema_dir))
            return sorted(p for p in out if p.endswith(".json"))
        listing = subprocess.run(
            ["git", f"--git-dir={self.git_dir}", "ls-tree", "-r", "--name-only", self.ref, folder],
            check=True, capture_output=True, text=True,
        ).stdout
        return sorted(p for p in listing.splitlines() if p.endswith(".json"))

    def read(self, path):
        if self.schema_dir:
            with open(os.path.join(self.schema_dir, path), encoding="utf-8") as f:
                return json.load(f)
        text = subprocess.run(
            ["git", f"--git-dir={self.git_dir}", "show", f"{self.ref}:{path}"],
            check=True, capture_output=True, text=True,
        ).stdout
        return json.loads(text)


def deep_merge(dest, source):
    for k, v in source.items():
        if k in dest and isinstance(dest[k], dict) and isinstance(v, dict):
            deep_merge(dest[k], v)
        else:
            dest[k] = v


def merge_attribute(dest, source):
    """The compiler's attribute-detail merge: source wins, dicts deep-merge, and
    "profile": null means the attribute is not affected by profiles."""
    for k, v in source.items():
        if k in dest and isinstance(dest[k], dict) and isinstance(v, dict):
            deep_merge(dest[k], v)
        else:
            dest[k] = v


def merge_attributes(dest, source):
    for name, attr in source.items():
        if name in dest:
            merge_attribute(dest[name], attr)
        else:
            dest[name] = copy.deepcopy(attr)


def resolve_includes(src, item):
    attrs = item.setdefault("attributes", {})
    includes = attrs.pop("$include", [])
    if isinstance(includes, str):
        includes = [includes]
    for path in includes:
        inc = src.read(path)
        base = copy.deepcopy(inc.get("attributes", {}))
        if inc.get("meta") == "profile":
            for a in base.values():
                a["profile"] = inc["name"]
        merge_attributes(base, item["attributes"])
        item["attributes"] = base
    for name, attr in list(item["attributes"].items()):
        if isinstance(attr, dict) and "$include" in attr:
            inc = copy.deepcopy(src.read(attr.pop("$include")))
            deep_merge(inc, attr)
            item["attributes"][name] = inc


def flatten(items, name, done):
    if name in done:
        return items[name]
    item = items[name]
    parent = item.get("extends")
    if parent:
        if parent not in items:
            raise SystemExit(f"{name} extends undefined {parent}")
        merged = copy.deepcopy(flatten(items, parent, done))
        for k, v in item.items():
            if k == "attributes":
                merge_attributes(merged.setdefault("attributes", {}), v)
            elif k == "profiles":
                merged["profiles"] = sorted(set(merged.get("profiles", [])) | set(v))
            else:
                merged[k] = v
        items[name] = merged
    done.add(name)
    return items[name]


def load(src):
    dictionary = src.read("dictionary.json")
    categories = src.read("categories.json")["attributes"]
    version = src.read("version.json")["version"]
    classes, objects = {}, {}
    for path in src.files("events"):
        c = src.read(path)
        resolve_includes(src, c)
        classes[c["name"]] = c
    for path in src.files("objects"):
        o = src.read(path)
        resolve_includes(src, o)
        objects[o["name"]] = o
    add_observable_types(dictionary, classes, objects)
    done = set()
    for n in list(classes):
        flatten(classes, n, done)
    done = set()
    for n in list(objects):
        flatten(objects, n, done)
    return dictionary, categories, version, classes, objects


def add_observable_types(dictionary, classes, objects):
    """The observable object's type_id enum: every type id the schema assigns (types,
    dictionary attributes, objects, and class and object attributes or paths), as the
    compiler builds it."""
    ids = {}
    for group in (dictionary["types"]["attributes"], dictionary["attributes"]):
        for name, d in group.items():
            if "observable" in d:
                ids[str(d["observable"])] = d.get("caption", name)
    for items in (classes, objects):
        for item in items.values():
            if "observable" in item:
                ids[str(item["observable"])] = item.get("caption", item["name"])
            for name, a in item.get("attributes", {}).items():
                if isinstance(a, dict) and "observable" in a:
                    ids[str(a["observable"])] = f"{item['name']}.{name}"
            for path, type_id in item.get("observables", {}).items():
                ids[str(type_id)] = f"{item['name']}.{path}"
    enum = objects["observable"]["attributes"].setdefault("type_id", {}).setdefault("enum", {})
    for type_id, caption in ids.items():
        enum.setdefault(type_id, {"caption": caption})


def class_uids(cls, categories):
    cat_key = cls.get("category")
    if cat_key == "other" or cat_key not in categories:
        cat_uid = 0
    else:
        cat_uid = categories[cat_key]["uid"]
    return cat_uid, cat_uid * 1000 + cls.get("uid", 0)


def enrich_class(cls, categories):
    cat_uid, uid = class_uids(cls, categories)
    attrs = cls["attributes"]
    activities = attrs.get("activity_id", {}).get("enum", {})
    type_uids = {str(uid * 100 + int(k)): {"caption": v.get("caption", "")} for k, v in activities.items()}
    type_uids[str(uid * 100)] = {"caption": "Unknown"}
    attrs.setdefault("type_uid", {})["enum"] = type_uids
    attrs.setdefault("class_uid", {})["enum"] = {str(uid): {"caption": cls["caption"]}}
    if cat_uid:
        attrs.setdefault("category_uid", {})["enum"] = {str(cat_uid): categories[cls["category"]]}
    return cat_uid, uid


def finish(item, dictionary, profiles):
    """The item's attributes with their dictionary definitions, profiles applied."""
    out = {}
    for name, attr in item.get("attributes", {}).items():
        if name not in dictionary["attributes"]:
            raise SystemExit(f"{item['name']}.{name} is not in the dictionary")
        profile = attr.get("profile")
        if profile is not None and profile not in profiles:
            continue
        full = copy.deepcopy(dictionary["attributes"][name])
        # A class's own enum adds to the dictionary's; its uid/type enums replace.
        deep_merge(full, attr)
        if name in ("class_uid", "category_uid", "type_uid") and "enum" in attr:
            full["enum"] = attr["enum"]
        out[name] = full
    return out


class Encoder:
    def __init__(self, dictionary, objects, profiles):
        self.types = dictionary["types"]["attributes"]
        self.dictionary = dictionary
        self.objects = objects
        self.profiles = profiles
        self.defs = {}

    def base_type(self, t):
        seen = t
        while t in self.types and self.types[t].get("type"):
            t = self.types[t]["type"]
        return t, self.types.get(seen, {})

    def attribute(self, attr):
        t = attr.get("type")
        if t not in self.types:
            self.object(t)
            schema = {"$ref": f"#/$defs/{t}"}
        else:
            base, derived = self.base_type(t)
            schema = {}
            json_type = {
                "string_t": "string",
                "integer_t": "integer",
                "long_t": "integer",
                "float_t": "number",
                "boolean_t": "boolean",
            }.get(base)
            if json_type:
                schema["type"] = json_type
            if "enum" in attr and json_type in ("integer", "string"):
                conv = int if json_type == "integer" else str
                schema["enum"] = sorted(conv(k) for k in attr["enum"])
            if t != base:
                if "regex" in derived:
                    schema["pattern"] = derived["regex"]
                if "max_len" in derived:
                    schema["maxLength"] = derived["max_len"]
                if "range" in derived:
                    schema["minimum"], schema["maximum"] = derived["range"]
        if attr.get("is_array"):
            schema = {"type": "array", "items": schema}
        if attr.get("caption"):
            schema = {"title": attr["caption"], **schema}
        return schema

    def object(self, name):
        if name in self.defs:
            return
        if name not in self.objects:
            raise SystemExit(f"undefined object {name}")
        self.defs[name] = {}  # claimed first, so a recursive reference stops here
        obj = self.objects[name]
        self.defs[name] = self.item(obj, finish(obj, self.dictionary, self.profiles))

    def item(self, item, attributes):
        props = {n: self.attribute(a) for n, a in sorted(attributes.items())}
        constraints = item.get("constraints", {})
        just_one = [n for n in constraints.get("just_one", []) if n in props]
        at_least_one = [n for n in constraints.get("at_least_one", []) if n in props]
        required = sorted(
            n for n, a in attributes.items()
            if a.get("requirement") == "required" and n not in just_one and n not in at_least_one
        )
        schema = {"title": item.get("caption", item["name"]), "type": "object", "properties": props}
        schema["additionalProperties"] = not props
        if required:
            schema["required"] = required
        if just_one:
            schema["oneOf"] = [
                {"required": [n], "not": {"anyOf": [{"required": [o]} for o in just_one if o != n]}}
                for n in just_one
            ]
        if at_least_one:
            schema["anyOf"] = [{"required": [n]} for n in at_least_one]
        return schema


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schema-dir")
    ap.add_argument("--git-dir")
    ap.add_argument("--ref")
    ap.add_argument("--out", help="default: tests/ocsf/schema/<version> beside this script")
    args = ap.parse_args()
    if not args.schema_dir and not (args.git_dir and args.ref):
        ap.error("give --schema-dir, or --git-dir and --ref")
    src = Source(args.schema_dir, args.git_dir, args.ref)
    dictionary, categories, version, classes, objects = load(src)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema", version)
    os.makedirs(out, exist_ok=True)
    for name, file_name in CLASSES.items():
        cls = classes[name]
        _, uid = enrich_class(cls, categories)
        enc = Encoder(dictionary, objects, PROFILES)
        schema = enc.item(cls, finish(cls, dictionary, PROFILES))
        doc = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"ocsf:{version}:class:{uid}",
            "description": f"OCSF {version} {cls['caption']} (class_uid {uid}), profiles: {PROFILES or 'none'}; "
            "generated by tests/ocsf/generate_schema.py",
            **schema,
            "$defs": dict(sorted(enc.defs.items())),
        }
        with open(os.path.join(out, file_name), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=False)
            f.write("\n")
        print(f"{file_name}: class_uid {uid}, {len(schema['properties'])} attributes, {len(enc.defs)} objects")
    with open(os.path.join(out, "VERSION"), "w", encoding="utf-8") as f:
        f.write(version + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
