//! The dataset card's metadata: the YAML front matter of `README.md` (and a standalone
//! `.huggingface.yaml`, whose top-level keys win), of which only `configs:` matters here.

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// One entry of the card's `configs:` list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetaConfig {
    /// `config_name`.
    pub name: String,
    /// `data_files`, as split name → patterns (a plain string or list means split `train`);
    /// `None` when the config has no `data_files` (the default patterns apply in `data_dir`).
    pub data_files: Option<Vec<(String, Vec<String>)>>,
    /// `data_dir`: the directory the config's patterns are relative to.
    pub data_dir: Option<String>,
    /// `default: true`.
    pub default: bool,
}

/// The card metadata: the top-level YAML mapping, as JSON.
pub(crate) fn front_matter(readme: &str) -> Result<Map<String, Value>, String> {
    let text = readme.strip_prefix('\u{feff}').unwrap_or(readme);
    let trimmed = text.trim_start();
    let Some(rest) = trimmed.strip_prefix("---") else {
        return Ok(Map::new());
    };
    let Some(rest) = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))
        .or_else(|| rest.strip_prefix('\r'))
    else {
        return Ok(Map::new());
    };
    // The block ends at the first line that is exactly `---`.
    let mut end = None;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end_matches(['\r', '\n']) == "---" {
            end = Some(offset);
            break;
        }
        offset += line.len();
    }
    let Some(end) = end else {
        return Ok(Map::new());
    };
    parse_yaml_mapping(&rest[..end])
}

/// A YAML document whose top level must be a mapping (or empty).
pub(crate) fn parse_yaml_mapping(text: &str) -> Result<Map<String, Value>, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    match docs.into_iter().next().map(yaml_to_json) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err("the YAML metadata is not a mapping".to_string()),
    }
}

fn yaml_to_json(yaml: Yaml) -> Value {
    match yaml {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::String(s)),
        Yaml::Integer(i) => Value::from(i),
        Yaml::String(s) => Value::String(s),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Yaml::Hash(hash) => Value::Object(
            hash.into_iter()
                .map(|(k, v)| (scalar_key(k), yaml_to_json(v)))
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

fn scalar_key(key: Yaml) -> String {
    match yaml_to_json(key) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// A scalar as the string Python's `str()` would give a YAML-loaded key or name.
fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        _ => None,
    }
}

/// The `configs:` of the card metadata, in order. Errors describe the invalid entry.
pub(crate) fn configs(meta: &Map<String, Value>) -> Result<Vec<MetaConfig>, String> {
    let Some(value) = meta.get("configs") else {
        return Ok(Vec::new());
    };
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) if items.is_empty() => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err("`configs` must be a list".into()),
    };
    let mut out: Vec<MetaConfig> = Vec::new();
    for item in items {
        let Value::Object(entry) = item else {
            return Err("each entry of `configs` must be a mapping".into());
        };
        let name = entry
            .get("config_name")
            .and_then(scalar_string)
            .ok_or("each entry of `configs` must have a `config_name`")?;
        let data_files = match entry.get("data_files") {
            None | Some(Value::Null) => None,
            Some(v) => Some(yaml_data_files(v).ok_or_else(|| {
                format!(
                    "config `{name}`: `data_files` must be a string, a list of strings or a list of {{split, path}} entries"
                )
            })?),
        };
        let data_dir = entry.get("data_dir").and_then(scalar_string);
        let default = matches!(entry.get("default"), Some(Value::Bool(true)));
        let config = MetaConfig {
            name: name.clone(),
            data_files,
            data_dir,
            default,
        };
        // A repeated name replaces the earlier entry in place (a Python dict).
        match out.iter_mut().find(|c| c.name == name) {
            Some(existing) => *existing = config,
            None => out.push(config),
        }
    }
    Ok(out)
}

/// `data_files` of a card config: a string, a list of strings (split `train`), or a list of
/// `{split, path}` mappings with unique splits.
fn yaml_data_files(value: &Value) -> Option<Vec<(String, Vec<String>)>> {
    let strings = |v: &Value| -> Option<Vec<String>> {
        match v {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => None,
        }
    };
    match value {
        Value::String(s) => Some(vec![("train".into(), vec![s.clone()])]),
        Value::Array(items) if items.iter().any(Value::is_object) => {
            let mut out: Vec<(String, Vec<String>)> = Vec::new();
            for item in items {
                let Value::Object(entry) = item else {
                    return None;
                };
                if entry.len() != 2 {
                    return None;
                }
                let split = entry.get("split").and_then(scalar_string)?;
                let paths = strings(entry.get("path")?)?;
                if out.iter().any(|(s, _)| *s == split) {
                    return None;
                }
                out.push((split, paths));
            }
            Some(out)
        }
        Value::Array(_) => Some(vec![("train".into(), strings(value)?)]),
        _ => None,
    }
}

/// The default config's name among `configs`: the only one, the one named `default`, or the
/// one with `default: true`. `Err` names two candidates when there are several.
pub(crate) fn default_config(configs: &[MetaConfig]) -> Result<Option<&MetaConfig>, String> {
    let mut found: Option<&MetaConfig> = None;
    for config in configs {
        if configs.len() == 1 || config.name == "default" || config.default {
            if let Some(first) = found {
                return Err(format!(
                    "the dataset card marks several default configs: `{}` and `{}`",
                    first.name, config.name
                ));
            }
            found = Some(config);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "---\nlicense: mit\nconfigs:\n- config_name: main\n  default: true\n  data_files:\n  - split: train\n    path: data/train-*.parquet\n  - split: test\n    path:\n    - data/test.parquet\n- config_name: raw\n  data_files: raw/*.jsonl\n- config_name: dir\n  data_dir: sub\n---\n# Title\n\ntext\n";

    #[test]
    fn reads_configs_from_the_front_matter() {
        let meta = front_matter(CARD).unwrap();
        let configs = configs(&meta).unwrap();
        assert_eq!(configs.len(), 3);
        assert_eq!(configs[0].name, "main");
        assert!(configs[0].default);
        assert_eq!(
            configs[0].data_files,
            Some(vec![
                ("train".into(), vec!["data/train-*.parquet".into()]),
                ("test".into(), vec!["data/test.parquet".into()]),
            ])
        );
        assert_eq!(
            configs[1].data_files,
            Some(vec![("train".into(), vec!["raw/*.jsonl".into()])])
        );
        assert_eq!(configs[2].data_dir.as_deref(), Some("sub"));
        assert_eq!(default_config(&configs).unwrap().unwrap().name, "main");
    }

    #[test]
    fn no_front_matter_means_no_configs() {
        assert!(front_matter("# Just a title\n").unwrap().is_empty());
        assert!(front_matter("---\nunterminated: yes\n").unwrap().is_empty());
        assert!(configs(&front_matter("---\n---\n").unwrap())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn invalid_configs_are_described() {
        let meta = front_matter("---\nconfigs:\n- data_files: a.csv\n---\n").unwrap();
        assert!(configs(&meta).unwrap_err().contains("config_name"));
        let meta =
            front_matter("---\nconfigs:\n- config_name: a\n  data_files: {train: a.csv}\n---\n")
                .unwrap();
        assert!(configs(&meta).unwrap_err().contains("data_files"));
        assert!(front_matter("---\n: : :\n  - [\n---\n").is_err());
    }

    #[test]
    fn several_defaults_are_an_error() {
        let meta = front_matter(
            "---\nconfigs:\n- config_name: a\n  default: true\n- config_name: default\n---\n",
        )
        .unwrap();
        let configs = configs(&meta).unwrap();
        assert!(default_config(&configs).is_err());
    }
}
