//! Which files of a repository hold a config's split, decided the way the `datasets` library
//! decides it (`load_dataset(repo, name, split=…, data_files=…)`), from the file listing and
//! the dataset card alone (no IO here).
//!
//! In order:
//! 1. explicit `data_files` (a string or list means split `train`; a map gives patterns per
//!    split), resolved against the repository root and read with the format most of them
//!    have;
//! 2. else the card's `configs:` (`config_name`, `data_files` as a string, a list, or
//!    `{split, path}` entries, `data_dir`, `default: true`); a config without `data_files`
//!    uses the default patterns inside its `data_dir`;
//! 3. else the default patterns: sharded `data/{split}-00000-of-00001*.*` files first, then
//!    split names in directory names, then in file names (`train`/`training`,
//!    `validation`/`valid`/`dev`/`val`, `test`/`testing`/`eval`/`evaluation`, delimited by
//!    `-._ `, digits or `/`), else every file is `train`;
//! 4. else (no data files, or only formats other than Parquet, JSON and CSV) the Hub's
//!    automatic Parquet conversion of the config's split.
//!
//! Patterns are globs matched as fsspec matches them for `datasets`: `*` within one path
//! component (a component that is exactly `*` needs at least one character), `?` one
//! character, `[…]` / `[!…]` a class, a whole component `**` any number of directories; a
//! pattern without wildcards names one file, which must exist. Hidden files and directories
//! (`.x`) and directories starting with `__` are skipped unless the pattern spells as many
//! of them. `README.md`, `config.json`, `dataset_info(s).json`, `dataset_dict.json` and
//! `dummy_data.zip` are never data unless a pattern names them; files need a known
//! data-file extension unless named by explicit `data_files`. Within a split, files come in
//! pattern order, each pattern's matches sorted by path.
//!
//! The format is the one most of the split's files have (a draw goes to Parquet, then JSON
//! Lines, JSON, CSV), as `datasets` chooses its builder; files of other formats are left
//! out, except those explicit `data_files` name, which are read in that format.

use std::collections::HashMap;

use assay_domain::manifest::{DataFiles, DataFilesEntry};
use regex::Regex;

use crate::card::{self, MetaConfig};
use crate::error::{HubError, Missing};
use crate::glob::Pattern;
use crate::{DataFormat, RepoFile};

/// The config name `datasets` gives a dataset without card configs.
pub const DEFAULT_CONFIG: &str = "default";

/// What the selection decided for one config and split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// These files, in reading order, at the repository commit.
    Files {
        /// The config the files belong to.
        config: String,
        /// (path, format) in reading order.
        files: Vec<(String, DataFormat)>,
    },
    /// No readable data files: use the Hub's Parquet conversion of this config and split.
    ParquetExport {
        /// The config to ask the conversion for.
        config: String,
        /// Why the repository's own files are not used.
        reason: String,
    },
}

/// The data-file extensions `datasets` knows (any builder), lower and upper case as it lists
/// them: a file needs one of them to be a data file unless explicit `data_files` name it.
const ALLOWED_EXTENSIONS: &str = ".csv .tsv .json .jsonl .ndjson .parquet .geoparquet .gpq .arrow .txt .conll .conllu .tar .xml .hdf5 .h5 .eval .toml .md .lance .tsfile .vortex .fa .fasta .fna .ffn .faa .frn .afa .gb .gbk .genbank .fq .fastq .pdb .ent .cif .mmcif .PDB .ENT .blp .bmp .dib .bufr .cur .pcx .dcx .dds .ps .eps .fit .fits .fli .flc .ftc .ftu .gbr .gif .grib .png .apng .jp2 .j2k .jpc .jpf .jpx .j2c .icns .ico .im .iim .tif .tiff .jfif .jpe .jpg .jpeg .mpg .mpeg .msp .pcd .pxr .pbm .pgm .ppm .pnm .psd .bw .rgb .rgba .sgi .ras .tga .icb .vda .vst .webp .wmf .emf .xbm .xpm .BLP .BMP .DIB .BUFR .CUR .PCX .DCX .DDS .PS .EPS .FIT .FITS .FLI .FLC .FTC .FTU .GBR .GIF .GRIB .PNG .APNG .JP2 .J2K .JPC .JPF .JPX .J2C .ICNS .ICO .IM .IIM .TIF .TIFF .JFIF .JPE .JPG .JPEG .MPG .MPEG .MSP .PCD .PXR .PBM .PGM .PPM .PNM .PSD .BW .RGB .RGBA .SGI .RAS .TGA .ICB .VDA .VST .WEBP .WMF .EMF .XBM .XPM .aiff .au .avr .caf .flac .htk .svx .mat4 .mat5 .mpc2k .ogg .paf .pvf .raw .rf64 .sd2 .sds .ircam .voc .w64 .wav .nist .wavex .wve .xi .mp3 .opus .3gp .3g2 .avi .asf .flv .mp4 .mov .m4v .mkv .webm .f4v .wmv .wma .ogm .mxf .nut .AIFF .AU .AVR .CAF .FLAC .HTK .SVX .MAT4 .MAT5 .MPC2K .OGG .PAF .PVF .RAW .RF64 .SD2 .SDS .IRCAM .VOC .W64 .WAV .NIST .WAVEX .WVE .XI .MP3 .OPUS .3GP .3G2 .AVI .ASF .FLV .MP4 .MOV .M4V .MKV .WEBM .F4V .WMV .WMA .OGM .MXF .NUT .glb .gltf .ply .stl .GLB .GLTF .PLY .STL .pdf .PDF .nii .NII .zip .idx .manifest .txn";

/// File names that are never data unless a pattern names them.
const FILES_TO_IGNORE: [&str; 6] = [
    "README.md",
    "config.json",
    "dataset_info.json",
    "dataset_infos.json",
    "dummy_data.zip",
    "dataset_dict.json",
];

/// File names `datasets` treats as metadata (they lose format votes to data files).
const METADATA_FILE_NAMES: [&str; 6] = [
    "instruction.md",
    "latest_version_hint.json",
    "metadata.csv",
    "metadata.jsonl",
    "metadata.parquet",
    "task.toml",
];

const SPLIT_KEYWORDS: [(&str, &[&str]); 3] = [
    ("train", &["train", "training"]),
    ("validation", &["validation", "valid", "dev", "val"]),
    ("test", &["test", "testing", "eval", "evaluation"]),
];
const SEP: &str = "-._ 0-9";
const SHARDED: &str = "data/{split}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]*.*";

/// The builder (`datasets` packaged module) a set of files is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Module {
    Parquet,
    Json,
    Csv { tab: bool },
    Other,
}

impl Module {
    fn extensions(self) -> &'static [&'static str] {
        match self {
            Module::Parquet => &[".parquet", ".geoparquet", ".gpq", ".zip"],
            Module::Json => &[".json", ".jsonl", ".ndjson", ".zip"],
            Module::Csv { .. } => &[".csv", ".tsv", ".zip"],
            Module::Other => &[],
        }
    }

    fn format_of(self, path: &str) -> DataFormat {
        let lower = basename(path).to_ascii_lowercase();
        match self {
            Module::Parquet | Module::Other => DataFormat::Parquet,
            Module::Json if lower.contains(".jsonl") || lower.contains(".ndjson") => {
                DataFormat::JsonLines
            }
            Module::Json => DataFormat::Json,
            Module::Csv { tab: true } => DataFormat::Tsv,
            Module::Csv { tab: false } => DataFormat::Csv,
        }
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Dot-suffixes of a file name (`a.tar.gz` → `tar`, `gz`).
fn suffixes(path: &str) -> impl Iterator<Item = &str> {
    basename(path).split('.').skip(1)
}

fn has_allowed_extension(path: &str) -> bool {
    suffixes(path).any(|s| {
        ALLOWED_EXTENSIONS
            .split(' ')
            .any(|ext| ext.strip_prefix('.') == Some(s))
    })
}

/// The module for a list of files: the most common extension, a draw going to Parquet, then
/// the Lance, Vortex and Arrow formats, then JSON Lines, JSON, CSV, then the larger
/// extension; metadata files vote last.
fn infer_module(files: &[String]) -> Option<Module> {
    let mut counts: HashMap<(String, bool), usize> = HashMap::new();
    for path in files {
        let is_meta = METADATA_FILE_NAMES.contains(&basename(path));
        for s in suffixes(path) {
            *counts
                .entry((format!(".{}", s.to_lowercase()), is_meta))
                .or_default() += 1;
        }
    }
    let mut ranked: Vec<((String, bool), usize)> = counts.into_iter().collect();
    let rank = |((ext, is_meta), count): &((String, bool), usize)| {
        (
            !*is_meta,
            *count,
            ext == ".parquet",
            ext == ".lance",
            ext == ".vortex",
            ext == ".arrow",
            ext == ".jsonl",
            ext == ".json",
            ext == ".csv",
            ext.clone(),
        )
    };
    ranked.sort_by_key(|entry| std::cmp::Reverse(rank(entry)));
    for ((ext, _), _) in ranked {
        let module = match ext.as_str() {
            ".parquet" | ".geoparquet" | ".gpq" => Module::Parquet,
            ".json" | ".jsonl" | ".ndjson" => Module::Json,
            ".csv" => Module::Csv { tab: false },
            ".tsv" => Module::Csv { tab: true },
            other if has_allowed_extension(&format!("x{other}")) => Module::Other,
            _ => continue,
        };
        return Some(module);
    }
    None
}

/// `datasets`' `filter(extensions=…)`: the path contains one of the extensions, optionally
/// followed by further suffixes (`a.jsonl.gz`).
fn has_module_extension(path: &str, module: Module) -> bool {
    let alternatives: Vec<String> = module
        .extensions()
        .iter()
        .map(|e| regex::escape(e))
        .collect();
    Regex::new(&format!(r"^.*({})(\..+)?$", alternatives.join("|")))
        .map(|re| re.is_match(path))
        .unwrap_or(false)
}

/// The repository's files, as paths relative to `base` (a directory, `""` for the root).
struct Tree<'a> {
    files: Vec<(&'a str, &'a str)>,
}

impl<'a> Tree<'a> {
    fn new(files: &'a [RepoFile], base: &str) -> Self {
        let base = base.trim_matches('/');
        let mut files: Vec<(&str, &str)> = files
            .iter()
            .filter_map(|f| {
                let rel = if base.is_empty() {
                    Some(f.path.as_str())
                } else {
                    f.path
                        .strip_prefix(base)
                        .and_then(|rest| rest.strip_prefix('/'))
                };
                rel.map(|rel| (f.path.as_str(), rel))
            })
            .collect();
        files.sort_by(|a, b| a.1.cmp(b.1));
        Tree { files }
    }

    /// `resolve_pattern`: the full paths of the files `pattern` selects, sorted; `Err` for a
    /// pattern without wildcards that selects nothing (or an invalid one).
    fn resolve(
        &self,
        repo: &str,
        pattern: &str,
        allowed_only: bool,
    ) -> Result<Vec<String>, HubError> {
        let compiled = Pattern::new(pattern)
            .map_err(|reason| HubError::unreadable(repo, "data_files", reason))?;
        let named = basename(compiled.as_str());
        let out: Vec<String> = self
            .files
            .iter()
            .filter(|(_, rel)| {
                let name = basename(rel);
                !(FILES_TO_IGNORE.contains(&name) && name != named)
                    && compiled.selects(rel)
                    && (!allowed_only || has_allowed_extension(rel))
            })
            .map(|(full, _)| full.to_string())
            .collect();
        if out.is_empty() {
            return Err(HubError::not_found(
                repo,
                Missing::File(pattern.to_string()),
            ));
        }
        Ok(out)
    }

    /// `DataFilesList.from_patterns`: every pattern's files in order; a wildcard pattern
    /// matching nothing is skipped, a plain path matching nothing is an error.
    fn resolve_all(
        &self,
        repo: &str,
        patterns: &[String],
        allowed_only: bool,
    ) -> Result<Vec<String>, HubError> {
        let mut out = Vec::new();
        for pattern in patterns {
            match self.resolve(repo, pattern, allowed_only) {
                Ok(files) => out.extend(files),
                Err(HubError::NotFound { .. }) if crate::glob::has_magic(pattern) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn any(&self, pattern: &str) -> bool {
        Pattern::new(pattern)
            .map(|p| {
                let named = basename(p.as_str());
                self.files.iter().any(|(_, rel)| {
                    let name = basename(rel);
                    !(FILES_TO_IGNORE.contains(&name) && name != named) && p.selects(rel)
                })
            })
            .unwrap_or(false)
    }
}

/// The default split patterns for a directory (`get_data_patterns`), as (split, patterns)
/// in split order; `None` when the directory holds no data files.
fn default_patterns(tree: &Tree<'_>) -> Option<Vec<(String, Vec<String>)>> {
    // Sharded files, `data/{split}-00000-of-00001.parquet`.
    let sharded_any = SHARDED.replace("{split}", "*");
    if let Ok(p) = Pattern::new(&sharded_any) {
        let split_re =
            Regex::new(r"^(.+)-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]*.*").ok()?;
        let mut splits: Vec<String> = Vec::new();
        for (_, rel) in &tree.files {
            let name = basename(rel);
            if FILES_TO_IGNORE.contains(&name) || !p.selects(rel) {
                continue;
            }
            if let Some(split) = split_re.captures(name).and_then(|c| c.get(1)) {
                let split = split.as_str().to_string();
                if !splits.contains(&split) {
                    splits.push(split);
                }
            }
        }
        if !splits.is_empty() {
            let known = ["train", "validation", "test"];
            let mut ordered: Vec<String> = known
                .iter()
                .filter(|k| splits.iter().any(|s| s == *k))
                .map(|k| k.to_string())
                .collect();
            let mut others: Vec<String> = splits
                .into_iter()
                .filter(|s| !known.contains(&s.as_str()))
                .collect();
            others.sort();
            ordered.extend(others);
            return Some(
                ordered
                    .into_iter()
                    .map(|split| {
                        let pattern = SHARDED.replace("{split}", &split);
                        (split, vec![pattern])
                    })
                    .collect(),
            );
        }
    }
    let keyword_patterns = |bases: &[&str]| -> Vec<(String, Vec<String>)> {
        SPLIT_KEYWORDS
            .iter()
            .map(|(split, keywords)| {
                let patterns = keywords
                    .iter()
                    .flat_map(|kw| {
                        bases
                            .iter()
                            .map(move |b| b.replace("{keyword}", kw).replace("{sep}", SEP))
                    })
                    .collect();
                (split.to_string(), patterns)
            })
            .collect()
    };
    let candidates: Vec<Vec<(String, Vec<String>)>> = vec![
        vec![("logs".into(), vec!["**/*.eval".into()])],
        vec![(
            "test".into(),
            vec!["**/task.toml".into(), "**/instruction.md".into()],
        )],
        keyword_patterns(&[
            "**/{keyword}/**",
            "**/{keyword}[{sep}]*/**",
            "**/*[{sep}]{keyword}/**",
            "**/*[{sep}]{keyword}[{sep}]*/**",
        ]),
        keyword_patterns(&["**/{keyword}[{sep}]*", "**/*[{sep}]{keyword}[{sep}]*"]),
        vec![("train".into(), vec!["**".into()])],
    ];
    for candidate in candidates {
        let found: Vec<(String, Vec<String>)> = candidate
            .into_iter()
            .filter(|(_, patterns)| patterns.iter().any(|p| tree.any(p)))
            .collect();
        if !found.is_empty() {
            return Some(found);
        }
    }
    None
}

/// Explicit `data_files` as (split, patterns), `datasets`' `sanitize_patterns`.
fn explicit_patterns(data_files: &DataFiles) -> Vec<(String, Vec<String>)> {
    let entry = |e: &DataFilesEntry| match e {
        DataFilesEntry::One(p) => vec![p.clone()],
        DataFilesEntry::Many(ps) => ps.clone(),
    };
    match data_files {
        DataFiles::One(p) => vec![("train".into(), vec![p.clone()])],
        DataFiles::Many(ps) => vec![("train".into(), ps.clone())],
        DataFiles::Splits(map) => map.iter().map(|(s, e)| (s.clone(), entry(e))).collect(),
    }
}

/// Picks the files of `split` of `config` (see the module docs for the rules). `readme` is
/// the text of `README.md` and `standalone_yaml` that of `.huggingface.yaml`, when the
/// repository has them.
pub(crate) fn select(
    repo: &str,
    files: &[RepoFile],
    readme: Option<&str>,
    standalone_yaml: Option<&str>,
    config: Option<&str>,
    split: &str,
    data_files: Option<&DataFiles>,
) -> Result<Selection, HubError> {
    let mut meta = match readme {
        Some(text) => card::front_matter(text)
            .map_err(|reason| HubError::unreadable(repo, "README.md", reason))?,
        None => Default::default(),
    };
    if let Some(text) = standalone_yaml {
        let extra = card::parse_yaml_mapping(text)
            .map_err(|reason| HubError::unreadable(repo, ".huggingface.yaml", reason))?;
        meta.extend(extra);
    }
    let configs =
        card::configs(&meta).map_err(|reason| HubError::unreadable(repo, "README.md", reason))?;
    let config_names = || -> Vec<String> {
        if configs.is_empty() {
            vec![DEFAULT_CONFIG.to_string()]
        } else {
            configs.iter().map(|c| c.name.clone()).collect()
        }
    };
    let config_missing = |name: &str| HubError::NotFound {
        repo: repo.to_string(),
        missing: Missing::Config(name.to_string()),
        available: config_names(),
    };

    // Which card config (if any) applies.
    let chosen: Option<&MetaConfig> = match config {
        Some(name) => match configs.iter().find(|c| c.name == name) {
            Some(c) => Some(c),
            None if configs.is_empty() && name == DEFAULT_CONFIG => None,
            None => return Err(config_missing(name)),
        },
        None => {
            let default = card::default_config(&configs)
                .map_err(|reason| HubError::unreadable(repo, "README.md", reason))?;
            if default.is_none() && configs.len() > 1 && data_files.is_none() {
                return Err(config_missing(""));
            }
            default
        }
    };
    let config_name = chosen
        .map(|c| c.name.clone())
        .or_else(|| config.map(str::to_string))
        .unwrap_or_else(|| DEFAULT_CONFIG.to_string());

    // The patterns per split, the directory they are relative to, and whether matches need
    // a data-file extension.
    let (patterns, base, explicit) = if let Some(df) = data_files {
        (explicit_patterns(df), String::new(), true)
    } else if let Some(c) = chosen {
        let base = c.data_dir.clone().unwrap_or_default();
        match &c.data_files {
            Some(p) => (p.clone(), base, false),
            None => match default_patterns(&Tree::new(files, &base)) {
                Some(p) => (p, base, false),
                None => {
                    return Err(HubError::NotFound {
                        repo: repo.to_string(),
                        missing: Missing::DataFiles,
                        available: Vec::new(),
                    })
                }
            },
        }
    } else {
        match default_patterns(&Tree::new(files, "")) {
            Some(p) => (p, String::new(), false),
            None => {
                return Ok(Selection::ParquetExport {
                    config: config_name,
                    reason: "the repository has no data files".into(),
                })
            }
        }
    };

    let split_names: Vec<String> = patterns.iter().map(|(s, _)| s.clone()).collect();
    let Some((_, split_patterns)) = patterns.iter().find(|(s, _)| s == split) else {
        return Err(HubError::NotFound {
            repo: repo.to_string(),
            missing: Missing::Split(split.to_string()),
            available: split_names,
        });
    };
    let tree = Tree::new(files, &base);
    let data_candidates = tree.resolve_all(repo, split_patterns, true)?;
    let module = infer_module(&data_candidates);
    let patterns_text = || split_patterns.join(", ");
    let selected = match module {
        None if explicit => {
            return Err(HubError::not_found(repo, Missing::File(patterns_text())));
        }
        None if chosen.is_none() => {
            return Ok(Selection::ParquetExport {
                config: config_name,
                reason: "the repository has no data files".into(),
            })
        }
        None => {
            return Err(HubError::NotFound {
                repo: repo.to_string(),
                missing: Missing::DataFiles,
                available: split_names,
            })
        }
        Some(Module::Other) => {
            let kinds: Vec<String> = data_candidates
                .iter()
                .filter_map(|p| suffixes(p).last().map(|s| format!(".{s}")))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let reason = format!(
                "the data files are not Parquet, JSON or CSV ({})",
                kinds.join(", ")
            );
            if explicit {
                return Err(HubError::unreadable(repo, &patterns_text(), reason));
            }
            return Ok(Selection::ParquetExport {
                config: config_name,
                reason,
            });
        }
        Some(module) => {
            let paths = if explicit {
                tree.resolve_all(repo, split_patterns, false)?
            } else {
                data_candidates
                    .into_iter()
                    .filter(|p| has_module_extension(p, module))
                    .collect()
            };
            paths
                .into_iter()
                .map(|p| {
                    let format = module.format_of(&p);
                    (p, format)
                })
                .collect::<Vec<_>>()
        }
    };
    if selected.is_empty() {
        return Err(HubError::NotFound {
            repo: repo.to_string(),
            missing: Missing::DataFiles,
            available: split_names,
        });
    }
    Ok(Selection::Files {
        config: config_name,
        files: selected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(paths: &[&str]) -> Vec<RepoFile> {
        paths
            .iter()
            .map(|p| RepoFile {
                path: p.to_string(),
                size: 1,
            })
            .collect()
    }

    fn pick(paths: &[&str], split: &str) -> Result<Vec<String>, HubError> {
        pick_with(paths, None, None, split, None)
    }

    fn pick_with(
        paths: &[&str],
        readme: Option<&str>,
        config: Option<&str>,
        split: &str,
        data_files: Option<&DataFiles>,
    ) -> Result<Vec<String>, HubError> {
        match select("o/r", &repo(paths), readme, None, config, split, data_files)? {
            Selection::Files { files, .. } => Ok(files.into_iter().map(|(p, _)| p).collect()),
            Selection::ParquetExport { reason, .. } => Ok(vec![format!("EXPORT: {reason}")]),
        }
    }

    #[test]
    fn one_file_is_train() {
        assert_eq!(
            pick(&["README.md", ".gitattributes", "dataset.csv"], "train").unwrap(),
            ["dataset.csv"]
        );
    }

    #[test]
    fn split_names_in_file_names() {
        let files = [
            "README.md",
            "train.csv",
            "test.csv",
            "my_valid-1.csv",
            "other.csv",
        ];
        assert_eq!(pick(&files, "train").unwrap(), ["train.csv"]);
        assert_eq!(pick(&files, "validation").unwrap(), ["my_valid-1.csv"]);
        assert_eq!(pick(&files, "test").unwrap(), ["test.csv"]);
        let err = pick(&files, "other").unwrap_err();
        assert_eq!(
            err,
            HubError::NotFound {
                repo: "o/r".into(),
                missing: Missing::Split("other".into()),
                available: vec!["train".into(), "validation".into(), "test".into()],
            }
        );
        // `contest.csv` is not a test file: the keyword must be delimited.
        assert_eq!(
            pick(&["contest.csv", "b.csv"], "train").unwrap(),
            ["b.csv", "contest.csv"]
        );
        assert_eq!(
            pick(&["data/training_0.jsonl", "data/eval.jsonl"], "test").unwrap(),
            ["data/eval.jsonl"]
        );
    }

    #[test]
    fn split_names_in_directories_win_over_file_names() {
        let files = [
            "data/train/shard_0.csv",
            "data/train/shard_1.csv",
            "data/dev/a.csv",
            "test.csv",
        ];
        assert_eq!(
            pick(&files, "train").unwrap(),
            ["data/train/shard_0.csv", "data/train/shard_1.csv"]
        );
        assert_eq!(pick(&files, "validation").unwrap(), ["data/dev/a.csv"]);
        // The directory rule applies, so `test.csv` is not a split of its own.
        assert!(matches!(
            pick(&files, "test"),
            Err(HubError::NotFound { .. })
        ));
    }

    #[test]
    fn sharded_files_name_their_splits() {
        let files = [
            "data/train-00000-of-00002.parquet",
            "data/train-00001-of-00002.parquet",
            "data/test-00000-of-00001.parquet",
            "data/random-00000-of-00001.parquet",
            "test.csv",
        ];
        assert_eq!(
            pick(&files, "train").unwrap(),
            [
                "data/train-00000-of-00002.parquet",
                "data/train-00001-of-00002.parquet"
            ]
        );
        assert_eq!(
            pick(&files, "random").unwrap(),
            ["data/random-00000-of-00001.parquet"]
        );
        let Err(HubError::NotFound { available, .. }) = pick(&files, "x") else {
            panic!()
        };
        assert_eq!(available, ["train", "test", "random"]);
    }

    #[test]
    fn the_most_common_format_wins() {
        // Parquet wins a draw; the other format's files are dropped.
        assert_eq!(
            pick(&["a.parquet", "b.jsonl"], "train").unwrap(),
            ["a.parquet"]
        );
        assert_eq!(
            pick(&["a.jsonl", "b.jsonl", "c.parquet", "notes.md"], "train").unwrap(),
            ["a.jsonl", "b.jsonl"]
        );
    }

    #[test]
    fn unsupported_formats_fall_back_to_the_parquet_export() {
        let got = pick(&["train/a.png", "train/b.png"], "train").unwrap();
        assert_eq!(
            got,
            ["EXPORT: the data files are not Parquet, JSON or CSV (.png)"]
        );
        let got = pick(&["README.md", "script.py"], "train").unwrap();
        assert_eq!(got, ["EXPORT: the repository has no data files"]);
    }

    #[test]
    fn hidden_and_ignored_files_are_not_data() {
        assert_eq!(
            pick(
                &[
                    ".hidden/train.csv",
                    "__pycache__/x.csv",
                    "config.json",
                    "b.csv"
                ],
                "train"
            )
            .unwrap(),
            ["b.csv"]
        );
    }

    const CARD: &str = "---\nconfigs:\n- config_name: main\n  default: true\n  data_files:\n  - split: train\n    path: main/train-*.parquet\n  - split: test\n    path: main/test.parquet\n- config_name: extra\n  data_files: extra/*.jsonl\n- config_name: sub\n  data_dir: subdir\n---\n";

    #[test]
    fn card_configs() {
        let files = [
            "README.md",
            "main/train-0.parquet",
            "main/train-1.parquet",
            "main/test.parquet",
            "extra/a.jsonl",
            "extra/b.jsonl",
            "subdir/test.csv",
            "subdir/train.csv",
        ];
        assert_eq!(
            pick_with(&files, Some(CARD), None, "train", None).unwrap(),
            ["main/train-0.parquet", "main/train-1.parquet"]
        );
        assert_eq!(
            pick_with(&files, Some(CARD), Some("main"), "test", None).unwrap(),
            ["main/test.parquet"]
        );
        assert_eq!(
            pick_with(&files, Some(CARD), Some("extra"), "train", None).unwrap(),
            ["extra/a.jsonl", "extra/b.jsonl"]
        );
        assert_eq!(
            pick_with(&files, Some(CARD), Some("sub"), "test", None).unwrap(),
            ["subdir/test.csv"]
        );
        let err = pick_with(&files, Some(CARD), Some("nope"), "train", None).unwrap_err();
        assert_eq!(
            err,
            HubError::NotFound {
                repo: "o/r".into(),
                missing: Missing::Config("nope".into()),
                available: vec!["main".into(), "extra".into(), "sub".into()],
            }
        );
        // Without a default, a config must be named.
        let no_default = CARD.replace("  default: true\n", "");
        let err = pick_with(&files, Some(&no_default), None, "train", None).unwrap_err();
        assert!(
            matches!(err, HubError::NotFound { missing: Missing::Config(ref n), .. } if n.is_empty())
        );
        // A missing plain path in a config is an error naming it.
        let bad = CARD.replace("main/test.parquet", "main/missing.parquet");
        let err = pick_with(&files, Some(&bad), None, "test", None).unwrap_err();
        assert_eq!(
            err,
            HubError::not_found("o/r", Missing::File("main/missing.parquet".into()))
        );
    }

    #[test]
    fn explicit_data_files_come_first() {
        let files = [
            "README.md",
            "main/train-0.parquet",
            "raw/a.csv",
            "raw/b.csv",
            "raw/c.txt",
        ];
        let one = DataFiles::One("raw/*.csv".into());
        assert_eq!(
            pick_with(&files, Some(CARD), None, "train", Some(&one)).unwrap(),
            ["raw/a.csv", "raw/b.csv"]
        );
        let splits: DataFiles = serde_json::from_value(
            serde_json::json!({"test": ["raw/b.csv"], "train": "raw/a.csv"}),
        )
        .unwrap();
        assert_eq!(
            pick_with(&files, None, None, "test", Some(&splits)).unwrap(),
            ["raw/b.csv"]
        );
        let missing = DataFiles::One("raw/nothing.csv".into());
        assert_eq!(
            pick_with(&files, None, None, "train", Some(&missing)).unwrap_err(),
            HubError::not_found("o/r", Missing::File("raw/nothing.csv".into()))
        );
        // A named file outside the data-file extensions is still read with the format of
        // the others.
        let named = DataFiles::Many(vec!["raw/a.csv".into(), "raw/c.txt".into()]);
        let got = select(
            "o/r",
            &repo(&files),
            None,
            None,
            None,
            "train",
            Some(&named),
        )
        .unwrap();
        assert_eq!(
            got,
            Selection::Files {
                config: "default".into(),
                files: vec![
                    ("raw/a.csv".into(), DataFormat::Csv),
                    ("raw/c.txt".into(), DataFormat::Csv)
                ],
            }
        );
    }

    #[test]
    fn formats() {
        let got = select(
            "o/r",
            &repo(&["a.jsonl", "b.json", "c.ndjson"]),
            None,
            None,
            None,
            "train",
            None,
        )
        .unwrap();
        let Selection::Files { files, .. } = got else {
            panic!()
        };
        assert_eq!(
            files,
            [
                ("a.jsonl".to_string(), DataFormat::JsonLines),
                ("b.json".to_string(), DataFormat::Json),
                ("c.ndjson".to_string(), DataFormat::JsonLines)
            ]
        );
        let got = select("o/r", &repo(&["t.tsv"]), None, None, None, "train", None).unwrap();
        let Selection::Files { files, .. } = got else {
            panic!()
        };
        assert_eq!(files, [("t.tsv".to_string(), DataFormat::Tsv)]);
    }

    #[test]
    fn configs_without_a_card() {
        assert_eq!(
            pick_with(&["a.csv"], None, Some("default"), "train", None).unwrap(),
            ["a.csv"]
        );
        let err = pick_with(&["a.csv"], None, Some("en"), "train", None).unwrap_err();
        assert_eq!(
            err,
            HubError::NotFound {
                repo: "o/r".into(),
                missing: Missing::Config("en".into()),
                available: vec!["default".into()],
            }
        );
    }
}
