//! Reading a compose file (what each service needs) and editing it by byte spans.
//!
//! The file is parsed twice from the same text: `yaml-edit`'s lossless tree gives the byte
//! positions of keys and items, and its resolved view (aliases expanded, merge keys applied)
//! gives what each service really declares. Edits never re-serialize YAML: they cut byte
//! ranges out of the original text, so every byte that is not cut stays as written.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use yaml_edit::{Mapping, YamlFile, YamlNode, YamlValue};

/// Why a compose file cannot be read or edited.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The file cannot be read.
    #[error("compose file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not YAML this tool can work with.
    #[error("compose file `{path}`: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Cutting the removed blocks would change what a kept service means.
    #[error("compose file `{path}`: refusing the edit: {message}")]
    BrokenEdit {
        /// The file.
        path: PathBuf,
        /// What would break.
        message: String,
    },
    /// A reference to a removed service is written in a form the span editor does not cut.
    #[error(
        "compose file `{path}`: service `{service}` refers to `{target}` in `{key}` in a form \
         that cannot be edited safely ({why}); edit it by hand"
    )]
    UneditableReference {
        /// The file.
        path: PathBuf,
        /// The kept service holding the reference.
        service: String,
        /// The key (`depends_on`, `links`).
        key: String,
        /// The removed service it names.
        target: String,
        /// Why it cannot be cut.
        why: String,
    },
}

/// What one service declares, after anchors and merge keys are resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServiceDef {
    /// The service name (its key under `services`).
    pub name: String,
    /// `container_name`, when set.
    pub container_name: Option<String>,
    /// `image`.
    pub image: Option<String>,
    /// Services named in `depends_on` (list or map form).
    pub depends_on: Vec<String>,
    /// Services named in `links` (`service` or `service:alias`).
    pub links: Vec<String>,
    /// Services named in `volumes_from` (`service`, `service:ro`; `container:x` is skipped).
    pub volumes_from: Vec<String>,
    /// The service in `network_mode: service:X`.
    pub network_mode_service: Option<String>,
    /// Named volumes mounted (short or long syntax).
    pub named_volumes: Vec<String>,
    /// Host paths bind-mounted, as written (relative paths are relative to the file).
    pub bind_sources: Vec<String>,
    /// Networks joined (list or map form).
    pub networks: Vec<String>,
    /// `deploy.resources.limits.cpus` as written (e.g. `"1.0"`, `${X:-3.5}`).
    pub declared_cpus: Option<String>,
    /// `deploy.resources.limits.memory` as written (e.g. `2G`).
    pub declared_memory: Option<String>,
}

/// One parsed compose file: its text, its services and its top-level volumes and networks.
#[derive(Debug, Clone)]
pub struct ComposeFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The exact text.
    pub text: String,
    /// Services in file order.
    pub services: Vec<ServiceDef>,
    /// Top-level `volumes` keys.
    pub volumes: Vec<String>,
    /// Top-level `networks` keys.
    pub networks: Vec<String>,
    /// Byte span of each service's block (see [`ComposeFile::service_block`]).
    spans: BTreeMap<String, Range<usize>>,
}

/// A reference to a removed service cut out of a kept one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CleanedReference {
    /// The kept service.
    pub service: String,
    /// `depends_on` or `links`.
    pub key: String,
    /// The removed service it named.
    pub target: String,
    /// The exact text that was cut.
    pub removed_text: String,
}

/// The result of removing services from one file.
#[derive(Debug, Clone)]
pub struct Edit {
    /// The new text.
    pub text: String,
    /// Each removed service and its block exactly as written.
    pub removed_blocks: Vec<(String, String)>,
    /// References cut out of kept services.
    pub cleaned: Vec<CleanedReference>,
}

impl ComposeFile {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Self, ComposeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ComposeError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, text)
    }

    /// Parses `text` as if read from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Self, ComposeError> {
        let syntax = |message: String| ComposeError::Syntax {
            path: path.to_owned(),
            message,
        };
        let file = YamlFile::from_str(&text).map_err(|e| syntax(e.to_string()))?;
        let doc = file
            .document()
            .ok_or_else(|| syntax("no YAML document".into()))?;
        let resolved = YamlValue::from_document(&doc).map_err(|e| syntax(format!("{e:?}")))?;
        let top = resolved
            .as_mapping()
            .ok_or_else(|| syntax("the top level is not a mapping".into()))?;
        let resolved_services = top
            .get("services")
            .and_then(YamlValue::as_mapping)
            .ok_or_else(|| syntax("no `services` mapping".into()))?;

        let tree_top = doc
            .as_mapping()
            .ok_or_else(|| syntax("the top level is not a mapping".into()))?;
        let tree_services = tree_top
            .get_mapping("services")
            .ok_or_else(|| syntax("`services` is not a block mapping".into()))?;

        let mut services = Vec::new();
        let mut spans = BTreeMap::new();
        for entry in tree_services.entries() {
            let Some(name) = entry.key_node().as_ref().and_then(scalar_text) else {
                continue;
            };
            let key_start = entry
                .key_node()
                .map(|k| k.byte_range().start as usize)
                .unwrap_or(entry.byte_range().start as usize);
            spans.insert(name.clone(), service_block_span(&text, key_start));
            let def = resolved_services
                .get(&name)
                .map(|v| service_def(&name, v))
                .unwrap_or_else(|| ServiceDef {
                    name: name.clone(),
                    ..ServiceDef::default()
                });
            services.push(def);
        }
        let keys_of = |key: &str| -> Vec<String> {
            top.get(key)
                .and_then(YamlValue::as_mapping)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        Ok(Self {
            path: path.to_owned(),
            volumes: keys_of("volumes"),
            networks: keys_of("networks"),
            text,
            services,
            spans,
        })
    }

    /// The service named `name`, if this file defines it.
    pub fn service(&self, name: &str) -> Option<&ServiceDef> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The block of `name` exactly as written: the comment lines directly above its key,
    /// the key, its body, and the blank lines that follow it.
    pub fn service_block(&self, name: &str) -> Option<&str> {
        self.spans.get(name).and_then(|r| self.text.get(r.clone()))
    }

    /// Removes the `removed` services' blocks and cuts `depends_on` / `links` entries naming
    /// them out of the services that stay. Every other byte is kept.
    pub fn remove_services(&self, removed: &BTreeSet<String>) -> Result<Edit, ComposeError> {
        let mut cuts: Vec<Range<usize>> = Vec::new();
        let mut removed_blocks = Vec::new();
        for service in &self.services {
            if removed.contains(&service.name)
                && let Some(span) = self.spans.get(&service.name)
            {
                cuts.push(span.clone());
                removed_blocks.push((service.name.clone(), self.text[span.clone()].to_owned()));
            }
        }

        let mut cleaned = Vec::new();
        let file = YamlFile::from_str(&self.text).map_err(|e| ComposeError::Syntax {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let tree_services = file
            .document()
            .and_then(|d| d.as_mapping())
            .and_then(|m| m.get_mapping("services"));
        if let Some(tree_services) = tree_services {
            for service in &self.services {
                if removed.contains(&service.name) {
                    continue;
                }
                let Some(body) = tree_services.get_mapping(service.name.as_str()) else {
                    continue;
                };
                for key in ["depends_on", "links"] {
                    let resolved: &[String] = if key == "depends_on" {
                        &service.depends_on
                    } else {
                        &service.links
                    };
                    if !resolved.iter().any(|t| removed.contains(t)) {
                        continue;
                    }
                    self.cut_references(
                        &body,
                        &service.name,
                        key,
                        removed,
                        &mut cuts,
                        &mut cleaned,
                    )?;
                }
            }
        }

        cuts.sort_by_key(|r| r.start);
        let mut text = String::with_capacity(self.text.len());
        let mut at = 0;
        for cut in cuts {
            if cut.start < at {
                continue; // nested in a cut already made
            }
            text.push_str(&self.text[at..cut.start]);
            at = cut.end;
        }
        text.push_str(&self.text[at..]);
        self.check_kept_services_unchanged(&text, removed)?;
        Ok(Edit {
            text,
            removed_blocks,
            cleaned,
        })
    }

    /// The edited text must parse, and every kept service must read exactly as before,
    /// minus the references to removed services. This catches what cutting spans could
    /// break, e.g. an anchor defined inside a removed block and used by a kept one.
    fn check_kept_services_unchanged(
        &self,
        edited: &str,
        removed: &BTreeSet<String>,
    ) -> Result<(), ComposeError> {
        let broken = |message: String| ComposeError::BrokenEdit {
            path: self.path.clone(),
            message,
        };
        let after = Self::parse(&self.path, edited.to_owned())
            .map_err(|e| broken(format!("the edited file does not parse: {e}")))?;
        for before in self.services.iter().filter(|s| !removed.contains(&s.name)) {
            let mut expected = before.clone();
            expected.depends_on.retain(|t| !removed.contains(t));
            expected.links.retain(|t| !removed.contains(t));
            match after.service(&before.name) {
                Some(now) if *now == expected => {}
                Some(_) => {
                    return Err(broken(format!(
                        "kept service `{}` would change beyond its references to removed                          services (does it use an anchor defined in a removed block?)",
                        before.name
                    )));
                }
                None => {
                    return Err(broken(format!(
                        "kept service `{}` would disappear",
                        before.name
                    )));
                }
            }
        }
        Ok(())
    }

    fn cut_references(
        &self,
        body: &Mapping,
        service: &str,
        key: &str,
        removed: &BTreeSet<String>,
        cuts: &mut Vec<Range<usize>>,
        cleaned: &mut Vec<CleanedReference>,
    ) -> Result<(), ComposeError> {
        let uneditable = |target: &str, why: &str| ComposeError::UneditableReference {
            path: self.path.clone(),
            service: service.to_owned(),
            key: key.to_owned(),
            target: target.to_owned(),
            why: why.to_owned(),
        };
        let first_removed = || {
            removed
                .iter()
                .next()
                .map(String::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let Some(entry) = body.find_entry_by_key(key) else {
            // The reference comes from a merged anchor, not from this service's own text.
            return Err(uneditable(
                &first_removed(),
                "it is inherited through a merge key",
            ));
        };
        let Some(value) = entry.value_node() else {
            return Ok(());
        };
        let entry_start = entry
            .key_node()
            .map(|k| k.byte_range().start as usize)
            .unwrap_or(entry.byte_range().start as usize);
        let target_of = |item: &str| item.split(':').next().unwrap_or(item).trim().to_owned();

        // (target, item span) of every item, and whether each goes.
        let mut items: Vec<(String, Range<usize>, bool)> = Vec::new();
        let flow;
        if let Some(seq) = value.as_sequence() {
            flow = seq.is_flow_style();
            for item in seq.values() {
                let Some(text) = scalar_text(&item) else {
                    continue;
                };
                let r = item.byte_range();
                let range = r.start as usize..r.end as usize;
                let target = target_of(&text);
                let goes = removed.contains(&target);
                let span = if flow {
                    range
                } else {
                    line_span(&self.text, range.start)
                };
                items.push((target, span, goes));
            }
        } else if let Some(map) = value.as_mapping() {
            flow = map.is_flow_style();
            for item in map.entries() {
                let Some(target) = item.key_node().as_ref().and_then(scalar_text) else {
                    continue;
                };
                let Some(key_node) = item.key_node() else {
                    continue;
                };
                let goes = removed.contains(&target);
                if goes && flow {
                    return Err(uneditable(&target, "flow mappings are not cut"));
                }
                let span = block_span(&self.text, key_node.byte_range().start as usize);
                items.push((target, span, goes));
            }
        } else {
            return Ok(());
        }

        if items.iter().all(|(_, _, goes)| *goes) {
            // Nothing stays: drop the whole key.
            let span = block_span(&self.text, entry_start);
            for (target, _, _) in &items {
                cleaned.push(CleanedReference {
                    service: service.to_owned(),
                    key: key.to_owned(),
                    target: target.clone(),
                    removed_text: self.text[span.clone()].to_owned(),
                });
            }
            cuts.push(span);
            return Ok(());
        }
        for (i, (target, span, goes)) in items.iter().enumerate() {
            if !goes {
                continue;
            }
            let span = if flow {
                flow_item_span(&self.text, span.clone(), i + 1 == items.len())
            } else {
                span.clone()
            };
            cleaned.push(CleanedReference {
                service: service.to_owned(),
                key: key.to_owned(),
                target: target.clone(),
                removed_text: self.text[span.clone()].to_owned(),
            });
            cuts.push(span);
        }
        Ok(())
    }
}

/// The text of a scalar node, unquoted.
fn scalar_text(node: &YamlNode) -> Option<String> {
    node.as_scalar().map(|s| s.as_string().trim().to_owned())
}

fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// From the start of the line holding `offset` to the start of the next line.
fn line_span(text: &str, offset: usize) -> Range<usize> {
    let start = line_start(text, offset);
    let end = text[offset..]
        .find('\n')
        .map_or(text.len(), |i| offset + i + 1);
    start..end
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Lines of `text` from `from` on, each with its byte range (newline included).
fn lines_from(text: &str, from: usize) -> impl Iterator<Item = (Range<usize>, &str)> {
    let mut at = from;
    std::iter::from_fn(move || {
        if at >= text.len() {
            return None;
        }
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
        let range = at..end;
        at = end;
        Some((range.clone(), text[range].trim_end_matches(['\n', '\r'])))
    })
}

/// The key line holding `key_offset` and every following line indented deeper than it
/// (blank lines inside the body included, trailing blank lines excluded).
fn block_span(text: &str, key_offset: usize) -> Range<usize> {
    let start = line_start(text, key_offset);
    let key_line = line_span(text, key_offset);
    let key_indent = indent_of(&text[key_line.clone()]);
    let mut end = key_line.end;
    for (range, line) in lines_from(text, key_line.end) {
        if line.trim().is_empty() {
            continue;
        }
        if indent_of(line) <= key_indent {
            break;
        }
        end = range.end;
    }
    start..end
}

/// A service's block: comment lines directly above the key at the key's indentation, the
/// key and its body, and the blank lines after it. Section comments separated from the key
/// by a blank line stay: they may introduce several services.
fn service_block_span(text: &str, key_offset: usize) -> Range<usize> {
    let body = block_span(text, key_offset);
    let key_indent = indent_of(&text[line_span(text, key_offset)]);
    let mut start = body.start;
    while start > 0 {
        let previous = line_span(text, start - 1);
        let line = text[previous.clone()].trim_end_matches(['\n', '\r']);
        if line.trim_start().starts_with('#') && indent_of(line) == key_indent {
            start = previous.start;
        } else {
            break;
        }
    }
    let mut end = body.end;
    for (range, line) in lines_from(text, body.end) {
        if !line.trim().is_empty() {
            break;
        }
        end = range.end;
    }
    start..end
}

/// A flow-sequence item with the comma and spaces that tie it to its neighbour.
fn flow_item_span(text: &str, item: Range<usize>, is_last: bool) -> Range<usize> {
    if is_last {
        // `[a, b]` -> cut `, b`
        let before = &text[..item.start];
        let trimmed = before.trim_end();
        let start = if trimmed.ends_with(',') {
            trimmed.len() - 1
        } else {
            item.start
        };
        start..item.end
    } else {
        // `[a, b]` -> cut `a, `
        let after = &text[item.end..];
        let comma = after.find(',').map_or(0, |i| i + 1);
        let spaces = after[comma..].len() - after[comma..].trim_start_matches(' ').len();
        item.start..item.end + comma + spaces
    }
}

fn strings_of(value: Option<&YamlValue>) -> Vec<String> {
    match value {
        Some(YamlValue::Sequence(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(YamlValue::Mapping(map)) => map.keys().cloned().collect(),
        Some(v) => v.as_str().map(|s| vec![s.to_owned()]).unwrap_or_default(),
        None => Vec::new(),
    }
}

fn service_def(name: &str, value: &YamlValue) -> ServiceDef {
    let empty = BTreeMap::new();
    let map = value.as_mapping().unwrap_or(&empty);
    let text = |key: &str| map.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let first_part = |s: &str| s.split(':').next().unwrap_or(s).trim().to_owned();

    let mut named_volumes = Vec::new();
    let mut bind_sources = Vec::new();
    if let Some(YamlValue::Sequence(mounts)) = map.get("volumes") {
        for mount in mounts {
            let (kind, source) = match mount {
                YamlValue::Mapping(long) => (
                    long.get("type").and_then(|v| v.as_str()).map(str::to_owned),
                    long.get("source")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned),
                ),
                other => (
                    None,
                    other.as_str().and_then(|s| {
                        let mut parts = s.split(':');
                        let first = parts.next()?;
                        // `/data` alone is an anonymous volume, not a source.
                        parts.next().map(|_| first.to_owned())
                    }),
                ),
            };
            let Some(source) = source else { continue };
            let is_path = source.starts_with(['.', '/', '~']) || source.contains('/');
            match kind.as_deref() {
                Some("bind") => bind_sources.push(source),
                Some("volume") => named_volumes.push(source),
                Some(_) => {}
                None if is_path => bind_sources.push(source),
                None => named_volumes.push(source),
            }
        }
    }
    let limits = map
        .get("deploy")
        .and_then(|d| d.as_mapping())
        .and_then(|d| d.get("resources"))
        .and_then(|r| r.as_mapping())
        .and_then(|r| r.get("limits"))
        .and_then(|l| l.as_mapping());
    let limit = |key: &str| {
        limits
            .and_then(|l| l.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    ServiceDef {
        name: name.to_owned(),
        container_name: text("container_name"),
        image: text("image"),
        depends_on: strings_of(map.get("depends_on")),
        links: strings_of(map.get("links"))
            .iter()
            .map(|l| first_part(l))
            .collect(),
        volumes_from: strings_of(map.get("volumes_from"))
            .iter()
            .filter(|v| !v.starts_with("container:"))
            .map(|v| first_part(v))
            .collect(),
        network_mode_service: text("network_mode")
            .and_then(|m| m.strip_prefix("service:").map(str::to_owned)),
        named_volumes,
        bind_sources,
        networks: strings_of(map.get("networks")),
        declared_cpus: limit("cpus"),
        declared_memory: limit("memory"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "\
# head comment
x-common: &common
  image: busy
  restart: always

services:

  # the broker
  broker:
    <<: *common
    volumes:
      - data:/data

  # section for spark
  # two lines
  spark:
    <<: *common
    volumes:
      - checkpoints:/cp
      - ./conf/a.conf:/etc/a.conf:ro
    deploy:
      resources:
        limits:
          cpus: \"2.0\"
          memory: 2G

  dash:
    <<: *common
    depends_on:
      broker:
        condition: service_started
      spark:
        condition: service_started
    links: [broker, spark]

  only-spark:
    depends_on:
      - spark
  # trailing comment of services

volumes:
  data:
  checkpoints:
";

    fn small() -> ComposeFile {
        ComposeFile::parse(Path::new("small.yml"), SMALL.to_owned()).unwrap()
    }

    #[test]
    fn reads_services_with_merged_anchors() {
        let file = small();
        let names: Vec<_> = file.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["broker", "spark", "dash", "only-spark"]);
        let spark = file.service("spark").unwrap();
        assert_eq!(spark.image.as_deref(), Some("busy"));
        assert_eq!(spark.named_volumes, ["checkpoints"]);
        assert_eq!(spark.bind_sources, ["./conf/a.conf"]);
        assert_eq!(spark.declared_cpus.as_deref(), Some("2.0"));
        assert_eq!(spark.declared_memory.as_deref(), Some("2G"));
        let dash = file.service("dash").unwrap();
        assert_eq!(dash.depends_on, ["broker", "spark"]);
        assert_eq!(dash.links, ["broker", "spark"]);
        assert_eq!(file.volumes, ["checkpoints", "data"]);
    }

    #[test]
    fn service_block_takes_attached_comments_and_trailing_blanks() {
        let file = small();
        assert_eq!(
            file.service_block("spark").unwrap(),
            "  # section for spark\n  # two lines\n  spark:\n    <<: *common\n    volumes:\n      - checkpoints:/cp\n      - ./conf/a.conf:/etc/a.conf:ro\n    deploy:\n      resources:\n        limits:\n          cpus: \"2.0\"\n          memory: 2G\n\n"
        );
    }

    #[test]
    fn removing_a_service_cuts_its_block_and_references_only() {
        let file = small();
        let removed: BTreeSet<String> = ["spark".to_owned()].into();
        let edit = file.remove_services(&removed).unwrap();
        let expected = SMALL
            .replace(
                "  # section for spark\n  # two lines\n  spark:\n    <<: *common\n    volumes:\n      - checkpoints:/cp\n      - ./conf/a.conf:/etc/a.conf:ro\n    deploy:\n      resources:\n        limits:\n          cpus: \"2.0\"\n          memory: 2G\n\n",
                "",
            )
            .replace("      spark:\n        condition: service_started\n", "")
            .replace("[broker, spark]", "[broker]")
            .replace("    depends_on:\n      - spark\n", "");
        assert_eq!(edit.text, expected);
        assert_eq!(edit.removed_blocks.len(), 1);
        let cleaned: Vec<_> = edit
            .cleaned
            .iter()
            .map(|c| (c.service.as_str(), c.key.as_str()))
            .collect();
        assert_eq!(
            cleaned,
            [
                ("dash", "depends_on"),
                ("dash", "links"),
                ("only-spark", "depends_on")
            ]
        );
        // The result is still a valid compose file with the service gone.
        let again = ComposeFile::parse(Path::new("small.yml"), edit.text).unwrap();
        assert!(again.service("spark").is_none());
        assert_eq!(again.service("dash").unwrap().depends_on, ["broker"]);
    }

    #[test]
    fn anchor_defined_in_a_removed_block_stops_the_edit() {
        let text = "services:\n  spark:\n    environment: &env\n      A: b\n\n  kept:\n    environment: *env\n";
        let file = ComposeFile::parse(Path::new("a.yml"), text.to_owned()).unwrap();
        let err = file
            .remove_services(&["spark".to_owned()].into())
            .unwrap_err();
        assert!(matches!(err, ComposeError::BrokenEdit { .. }), "{err}");
    }

    #[test]
    fn legacy_compose_file_parses() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/legacy/docker-compose.v1.yml");
        let file = ComposeFile::load(&path).unwrap();
        assert_eq!(file.services.len(), 17);
        let cleaner = file.service("spark-checkpoint-cleaner").unwrap();
        assert_eq!(cleaner.named_volumes, ["spark-checkpoints"]);
        let job = file.service("bronze-binance-stream").unwrap();
        assert_eq!(job.declared_cpus.as_deref(), Some("1.0"));
        assert!(job.named_volumes.contains(&"spark-checkpoints".to_owned()));
        assert!(
            file.service_block("prefect-agent")
                .unwrap()
                .starts_with("  # Prefect agent")
        );
    }
}
