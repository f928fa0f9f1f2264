//! Where budgets come from: `dredge.toml`, `.dive-ci`, and flags, merged key by key.
//!
//! Precedence, lowest first (a later source overrides an earlier one key by key):
//! 1. `.dive-ci` in the working directory, read only when no other source sets any of dive's three rules
//!    and `--dive-ci` is not given;
//! 2. `dredge.toml` (`--config PATH`, else `./dredge.toml` when it exists);
//! 3. `--dive-ci PATH`;
//! 4. flags.
//!
//! A `.dive-ci` file sets all three dive rules: a rule it does not name takes dive's default
//! (`lowestEfficiency` 0.9, `highestWastedBytes` disabled, `highestUserWastedPercent` 0.1), because that
//! is what dive would check. `[check.dive]` in `dredge.toml` sets only the rules it names.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use yaml_rust2::{Yaml, YamlLoader};

use super::{Budgets, Key, Kind, Section, Setting, Spec, TABLE, Value};
use crate::config_file::{self, FileError, line_of};
use crate::units::parse_size;

/// A config that cannot be used. Messages name the file, the line and the key.
pub type ConfigError = FileError;

/// dive's defaults for a `.dive-ci` file that does not name a rule.
const DIVE_DEFAULTS: &[(Key, Value)] = &[
    (Key::LowestEfficiency, Value::Fraction(0.9)),
    (Key::HighestWastedBytes, Value::Disabled),
    (Key::HighestUserWastedPercent, Value::Fraction(0.1)),
];

/// Checks a number against its kind's range (percent 0-100, fraction 0-1).
pub fn check_range(kind: Kind, x: f64) -> Result<f64, String> {
    let (lo, hi, unit) = match kind {
        Kind::Percent => (0.0, 100.0, "a percent"),
        Kind::Fraction => (0.0, 1.0, "a fraction"),
        _ => return Ok(x),
    };
    if x.is_nan() || x < lo || x > hi {
        Err(format!("{x} is out of range: {unit} must be {lo} to {hi}"))
    } else {
        Ok(x)
    }
}

/// Reads a value as `key` takes it from a TOML value.
fn toml_value(k: &Spec, v: &DeValue<'_>) -> Result<Value, String> {
    let int = |v: &DeValue<'_>| -> Option<Result<u64, String>> {
        v.as_integer().map(|i| {
            u64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| format!("{} must not be negative", i.as_str()))
        })
    };
    let number = |v: &DeValue<'_>| -> Option<f64> {
        if let Some(i) = v.as_integer() {
            return i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|x| x as f64);
        }
        v.as_float().and_then(|f| f.as_str().parse().ok())
    };
    if k.section == Section::Dive && v.as_str() == Some("disabled") {
        return Ok(Value::Disabled);
    }
    match k.kind {
        Kind::Size => {
            if let Some(i) = int(v) {
                return i.map(Value::Bytes);
            }
            match v.as_str() {
                Some(s) => parse_size(s).map(Value::Bytes).map_err(|e| e.to_string()),
                None => Err(format!(
                    "expected a size like \"500MB\" or \"1.5GiB\", found a {}",
                    v.type_str()
                )),
            }
        }
        Kind::Count => match int(v) {
            Some(i) => i.map(Value::Count),
            None => Err(format!("expected a whole number, found a {}", v.type_str())),
        },
        Kind::Percent | Kind::Fraction => {
            let x = match (number(v), v.as_str()) {
                (Some(x), _) => x,
                // dive's own values are often strings ("0.95"); take them in [check.dive] too.
                (None, Some(s)) if k.section == Section::Dive => s
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{s}' is not a number or \"disabled\""))?,
                _ => {
                    return Err(format!(
                        "expected a number{}, found a {}",
                        if k.kind == Kind::Percent {
                            " (percent, 0 to 100)"
                        } else {
                            " (fraction, 0 to 1)"
                        },
                        v.type_str()
                    ));
                }
            };
            let x = check_range(k.kind, x)?;
            Ok(if k.kind == Kind::Percent {
                Value::Percent(x)
            } else {
                Value::Fraction(x)
            })
        }
        Kind::Globs => {
            if let Some(s) = v.as_str() {
                return Ok(Value::Globs(vec![s.to_string()]));
            }
            let Some(arr) = v.as_array() else {
                return Err(format!(
                    "expected a list of globs, found a {}",
                    v.type_str()
                ));
            };
            arr.iter()
                .map(|item| {
                    item.get_ref()
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| "every glob must be a string".to_string())
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Globs)
        }
    }
}

/// Parses `dredge.toml` text; `file` names it in messages and origins.
pub fn parse_toml(text: &str, file: &str) -> Result<Budgets, ConfigError> {
    let doc = config_file::parse_toml(text, file)?;
    let key_error = |key: &Spanned<std::borrow::Cow<'_, str>>, name: String, message: String| {
        config_file::key_error(text, file, key.span(), name, message)
    };
    let mut budgets = Budgets::default();
    for (top, value) in doc.get_ref() {
        if top.get_ref() != "check" {
            return Err(key_error(
                top,
                top.get_ref().to_string(),
                "unknown key (dredge.toml has a [check] table)".into(),
            ));
        }
        let Some(check) = value.get_ref().as_table() else {
            return Err(key_error(top, "check".into(), "must be a table".into()));
        };
        for (name, value) in check {
            if name.get_ref() == "dive" {
                let Some(dive) = value.get_ref().as_table() else {
                    return Err(key_error(
                        name,
                        "check.dive".into(),
                        "must be a table".into(),
                    ));
                };
                read_table(text, file, "check.dive.", Section::Dive, dive, &mut budgets)?;
                continue;
            }
            let mut one = DeTable::new();
            one.insert(name.clone(), value.clone());
            read_table(text, file, "check.", Section::Check, &one, &mut budgets)?;
        }
    }
    Ok(budgets)
}

fn read_table(
    text: &str,
    file: &str,
    prefix: &str,
    section: Section,
    table: &DeTable<'_>,
    budgets: &mut Budgets,
) -> Result<(), ConfigError> {
    for (name, value) in table {
        let line = line_of(text, name.span().start);
        let err = |message: String| ConfigError::Key {
            file: file.to_string(),
            line,
            key: format!("{prefix}{}", name.get_ref()),
            message,
        };
        let Some(k) = TABLE
            .iter()
            .find(|k| k.section == section && k.name == name.get_ref())
        else {
            let known: Vec<&str> = TABLE
                .iter()
                .filter(|k| k.section == section)
                .map(|k| k.name)
                .collect();
            return Err(err(format!("unknown key (known: {})", known.join(", "))));
        };
        let v = toml_value(k, value.get_ref()).map_err(err)?;
        budgets.settings.insert(
            k.key,
            Setting {
                value: v,
                origin: format!("{file}:{line}"),
            },
        );
    }
    Ok(())
}

/// A YAML scalar as viper's `GetString` renders it.
fn yaml_string(y: &Yaml) -> Option<String> {
    match y {
        Yaml::Real(s) | Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The first line of `text` that names `key` (YAML keys carry no positions in the parser used).
fn line_naming(text: &str, key: &str) -> usize {
    let key = key.to_ascii_lowercase();
    text.lines()
        .position(|l| l.to_ascii_lowercase().trim_start().starts_with(&key))
        .map_or(1, |i| i + 1)
}

/// Parses `.dive-ci` text as dive 0.13.1 reads it (viper: keys case-insensitive, values as strings).
/// Returns the three dive rules (defaults filled in) and warnings for keys dive would ignore.
pub fn parse_dive_ci(text: &str, file: &str) -> Result<(Budgets, Vec<String>), ConfigError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| ConfigError::Syntax {
        file: file.to_string(),
        line: e.marker().line(),
        message: e.info().to_string(),
    })?;
    let mut warnings = Vec::new();
    let mut budgets = Budgets::default();
    let rules = docs.first().and_then(|d| {
        d.as_hash()?
            .iter()
            .find_map(|(k, v)| (k.as_str()?.eq_ignore_ascii_case("rules")).then_some(v))
    });
    if let Some(rules) = rules {
        let Some(map) = rules.as_hash() else {
            return Err(ConfigError::Key {
                file: file.to_string(),
                line: line_naming(text, "rules"),
                key: "rules".into(),
                message: "must be a mapping".into(),
            });
        };
        for (k, v) in map {
            let name = yaml_string(k).unwrap_or_default();
            let Some(key) = TABLE
                .iter()
                .find(|x| x.section == Section::Dive && x.name.eq_ignore_ascii_case(&name))
            else {
                warnings.push(format!(
                    "{file}:{}: rules.{name}: not a dive rule, ignored (as dive does)",
                    line_naming(text, &name)
                ));
                continue;
            };
            let line = line_naming(text, key.name);
            let err = |message: String| ConfigError::Key {
                file: file.to_string(),
                line,
                key: format!("rules.{}", key.name),
                message,
            };
            let s = yaml_string(v).ok_or_else(|| err("expected a value".into()))?;
            let value = dive_value(key.key, s.trim()).map_err(err)?;
            budgets.settings.insert(
                key.key,
                Setting {
                    value,
                    origin: format!("{file}:{line}"),
                },
            );
        }
    }
    for (key, value) in DIVE_DEFAULTS {
        budgets.settings.entry(*key).or_insert_with(|| Setting {
            value: value.clone(),
            origin: format!("{file} (dive's default)"),
        });
    }
    Ok((budgets, warnings))
}

/// A dive rule's value from its string form: `disabled`, a size (humanize) or a fraction.
pub fn dive_value(key: Key, s: &str) -> Result<Value, String> {
    if s == "disabled" {
        return Ok(Value::Disabled);
    }
    match key.spec().kind {
        Kind::Size => parse_size(s).map(Value::Bytes).map_err(|e| e.to_string()),
        kind => {
            let x: f64 = s
                .parse()
                .map_err(|_| format!("'{s}' is not a number or \"disabled\""))?;
            check_range(kind, x).map(Value::Fraction)
        }
    }
}

/// Where to look for budgets.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config PATH`.
    pub config: Option<PathBuf>,
    /// `--dive-ci PATH`.
    pub dive_ci: Option<PathBuf>,
    /// Directory searched for `dredge.toml` and `.dive-ci`; `None` searches nowhere (`--no-config`).
    pub dir: Option<PathBuf>,
    /// Budgets given as flags.
    pub flags: Budgets,
}

/// The budgets in force, and what was read to get them.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// Merged budgets.
    pub budgets: Budgets,
    /// Files read, in precedence order.
    pub files: Vec<String>,
    /// Things worth saying (keys dive would ignore, a `.dive-ci` left unread).
    pub warnings: Vec<String>,
}

fn read(path: &Path) -> Result<String, ConfigError> {
    config_file::read(path, "")
}

/// Merges the sources (see the module notes for the precedence).
pub fn resolve(src: &Sources) -> Result<Resolved, ConfigError> {
    let mut out = Resolved::default();
    let toml_path = src.config.clone().or_else(|| {
        src.dir
            .as_ref()
            .map(|d| d.join("dredge.toml"))
            .filter(|p| p.is_file())
    });
    if let Some(p) = toml_path {
        let name = p.display().to_string();
        out.budgets = parse_toml(&read(&p)?, &name)?;
        out.files.push(name);
    }
    if let Some(p) = &src.dive_ci {
        let name = p.display().to_string();
        let (b, w) = parse_dive_ci(&read(p)?, &name)?;
        out.budgets.overlay(b);
        out.warnings.extend(w);
        out.files.push(name);
    }
    out.budgets.overlay(src.flags.clone());
    if src.dive_ci.is_none()
        && let Some(p) = src
            .dir
            .as_ref()
            .map(|d| d.join(".dive-ci"))
            .filter(|p| p.is_file())
    {
        let name = p.display().to_string();
        if out.budgets.has_section(Section::Dive) {
            out.warnings.push(format!(
                "{name} not read: dive's rules are set in dredge.toml or by flags"
            ));
        } else {
            let (b, w) = parse_dive_ci(&read(&p)?, &name)?;
            out.budgets.overlay(b);
            out.warnings.extend(w);
            out.files.insert(0, name);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_toml(text, "dredge.toml").unwrap_err().to_string()
    }

    #[test]
    fn toml_keys_values_and_origins() {
        let text = "# budgets\n[check]\nmax_size = \"500MB\"\nmax_layers = 12\n\
                    max_reclaimable_percent = 5.5\nforbidden_paths = [\"**/.git\", \"/root/**\"]\n\
                    [check.dive]\nlowestEfficiency = 0.95\nhighestWastedBytes = \"disabled\"\n\
                    highestUserWastedPercent = \"0.2\"\n";
        let b = parse_toml(text, "dredge.toml").unwrap();
        let get = |k: Key| b.get(k).unwrap().clone();
        assert_eq!(get(Key::MaxSize).value, Value::Bytes(500_000_000));
        assert_eq!(get(Key::MaxSize).origin, "dredge.toml:3");
        assert_eq!(get(Key::MaxLayers).value, Value::Count(12));
        assert_eq!(get(Key::MaxReclaimablePercent).value, Value::Percent(5.5));
        assert_eq!(
            get(Key::ForbiddenPaths).value,
            Value::Globs(vec!["**/.git".into(), "/root/**".into()])
        );
        assert_eq!(get(Key::LowestEfficiency).value, Value::Fraction(0.95));
        assert_eq!(get(Key::LowestEfficiency).origin, "dredge.toml:8");
        assert_eq!(get(Key::HighestWastedBytes).value, Value::Disabled);
        assert_eq!(
            get(Key::HighestUserWastedPercent).value,
            Value::Fraction(0.2)
        );
        assert_eq!(b.settings.len(), 7);
    }

    #[test]
    fn bad_toml_names_line_and_key() {
        assert_eq!(
            err("[check]\nmax_size = \"1GB\"\nmax_sise = \"2GB\"\n"),
            "dredge.toml:3: check.max_sise: unknown key (known: max_size, max_layer_size, \
             max_layers, max_reclaimable, max_reclaimable_percent, reclaimable_floor, max_cache, \
             forbidden_paths, max_growth, max_growth_percent)"
        );
        assert_eq!(
            err("[check]\n\nmax_size = \"12 XB\"\n"),
            "dredge.toml:3: check.max_size: '12 XB': unknown unit 'XB' (use B, kB, MB, GB, TB, \
             or KiB, MiB, GiB, TiB)"
        );
        assert_eq!(
            err("[check]\nmax_growth_percent = 150\n"),
            "dredge.toml:2: check.max_growth_percent: 150 is out of range: a percent must be 0 to 100"
        );
        assert_eq!(
            err("[check.dive]\nlowestEfficiency = 1.5\n"),
            "dredge.toml:2: check.dive.lowestEfficiency: 1.5 is out of range: a fraction must be 0 to 1"
        );
        assert_eq!(
            err("[budget]\nmax_size = 1\n"),
            "dredge.toml:1: budget: unknown key (dredge.toml has a [check] table)"
        );
        assert_eq!(
            err("[check]\nmax_layers = -1\n"),
            "dredge.toml:2: check.max_layers: -1 must not be negative"
        );
        assert_eq!(
            err("[check]\nmax_layers = \"3\"\n"),
            "dredge.toml:2: check.max_layers: expected a whole number, found a string"
        );
        assert_eq!(
            err("[check]\nmax_reclaimable = \"disabled\"\n"),
            "dredge.toml:2: check.max_reclaimable: 'disabled' is not a size: expected a number \
             and a unit, like 500MB or 1.5GiB"
        );
        assert_eq!(
            err("[check.dive]\nmax_size = 1\n"),
            "dredge.toml:2: check.dive.max_size: unknown key (known: lowestEfficiency, \
             highestWastedBytes, highestUserWastedPercent)"
        );
        assert!(err("[check]\nmax_size = \n").starts_with("dredge.toml:2: "));
    }

    #[test]
    fn dive_ci_as_dive_reads_it() {
        let text = "rules:\n  # comment\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n";
        let (b, w) = parse_dive_ci(text, ".dive-ci").unwrap();
        assert!(w.is_empty());
        let get = |k: Key| b.get(k).unwrap().clone();
        assert_eq!(get(Key::LowestEfficiency).value, Value::Fraction(0.95));
        assert_eq!(get(Key::LowestEfficiency).origin, ".dive-ci:3");
        assert_eq!(get(Key::HighestWastedBytes).value, Value::Bytes(20_000_000));
        // Not named: dive's default.
        assert_eq!(
            get(Key::HighestUserWastedPercent).value,
            Value::Fraction(0.1)
        );
        assert_eq!(
            get(Key::HighestUserWastedPercent).origin,
            ".dive-ci (dive's default)"
        );
        // Keys are case-insensitive in viper; unknown ones are ignored with a warning.
        let (b, w) = parse_dive_ci(
            "rules:\n  LOWESTEFFICIENCY: \"disabled\"\n  lowestEficiency: 0.5\n",
            "x",
        )
        .unwrap();
        assert_eq!(b.get(Key::LowestEfficiency).unwrap().value, Value::Disabled);
        assert_eq!(w.len(), 1, "{w:?}");
        // An empty file: all defaults.
        let (b, _) = parse_dive_ci("", "x").unwrap();
        assert_eq!(b.settings.len(), 3);
        assert_eq!(
            b.get(Key::HighestWastedBytes).unwrap().value,
            Value::Disabled
        );
        // Misconfigured values, named with line and key.
        assert_eq!(
            parse_dive_ci("rules:\n  highestUserWastedPercent: 10\n", ".dive-ci")
                .unwrap_err()
                .to_string(),
            ".dive-ci:2: rules.highestUserWastedPercent: 10 is out of range: a fraction must be 0 to 1"
        );
        assert_eq!(
            parse_dive_ci("rules:\n  highestWastedBytes: 20 parsecs\n", ".dive-ci")
                .unwrap_err()
                .to_string(),
            ".dive-ci:2: rules.highestWastedBytes: '20 parsecs': unknown unit 'parsecs' (use B, \
             kB, MB, GB, TB, or KiB, MiB, GiB, TiB)"
        );
        assert!(
            parse_dive_ci("rules: [\n", ".dive-ci")
                .unwrap_err()
                .to_string()
                .starts_with(".dive-ci:")
        );
    }

    #[test]
    fn precedence_flags_over_dive_ci_over_toml_and_auto_dive_ci_only_alone() {
        let dir = std::env::temp_dir().join(format!("dredge-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("dredge.toml"),
            "[check]\nmax_size = 100\n[check.dive]\nhighestWastedBytes = 5\n",
        )
        .unwrap();
        std::fs::write(dir.join(".dive-ci"), "rules:\n  lowestEfficiency: 0.5\n").unwrap();
        let mut flags = Budgets::default();
        flags.settings.insert(
            Key::MaxSize,
            Setting {
                value: Value::Bytes(7),
                origin: "--max-size".into(),
            },
        );
        let src = Sources {
            dir: Some(dir.clone()),
            flags: flags.clone(),
            ..Sources::default()
        };
        let r = resolve(&src).unwrap();
        let b = &r.budgets;
        assert_eq!(b.get(Key::MaxSize).unwrap().value, Value::Bytes(7));
        assert_eq!(
            b.get(Key::HighestWastedBytes).unwrap().value,
            Value::Bytes(5)
        );
        // dredge.toml sets a dive rule, so ./.dive-ci is not read.
        assert!(b.get(Key::LowestEfficiency).is_none());
        assert_eq!(r.warnings.len(), 1);

        // Without dive rules in dredge.toml, ./.dive-ci is read, defaults included.
        std::fs::write(dir.join("dredge.toml"), "[check]\nmax_size = 100\n").unwrap();
        let r = resolve(&src).unwrap();
        assert_eq!(
            r.budgets.get(Key::LowestEfficiency).unwrap().value,
            Value::Fraction(0.5)
        );
        assert_eq!(
            r.budgets.get(Key::HighestUserWastedPercent).unwrap().value,
            Value::Fraction(0.1)
        );

        // --dive-ci overrides dredge.toml's dive rules; flags override both.
        std::fs::write(
            dir.join("dredge.toml"),
            "[check.dive]\nlowestEfficiency = 0.7\n",
        )
        .unwrap();
        std::fs::write(dir.join("other"), "rules:\n  lowestEfficiency: 0.8\n").unwrap();
        let mut src2 = src.clone();
        src2.dive_ci = Some(dir.join("other"));
        let r = resolve(&src2).unwrap();
        assert_eq!(
            r.budgets.get(Key::LowestEfficiency).unwrap().value,
            Value::Fraction(0.8)
        );
        src2.flags.settings.insert(
            Key::LowestEfficiency,
            Setting {
                value: Value::Fraction(0.6),
                origin: "--lowest-efficiency".into(),
            },
        );
        let r = resolve(&src2).unwrap();
        assert_eq!(
            r.budgets.get(Key::LowestEfficiency).unwrap().value,
            Value::Fraction(0.6)
        );
        // --no-config: nothing from the directory.
        let r = resolve(&Sources {
            dir: None,
            ..src.clone()
        })
        .unwrap();
        assert_eq!(r.budgets.settings.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
