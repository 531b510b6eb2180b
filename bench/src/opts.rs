//! The subcommands' `--key value` options.

use std::collections::BTreeMap;

/// `--key value` options, plus everything after `--`.
pub struct Opts {
    map: BTreeMap<String, String>,
    pub command: Vec<String>,
}

impl Opts {
    pub fn parse(args: &[String]) -> Result<Opts, String> {
        let mut map = BTreeMap::new();
        let mut it = args.iter();
        let mut command = Vec::new();
        while let Some(a) = it.next() {
            if a == "--" {
                command = it.cloned().collect();
                break;
            }
            let key = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {a}"))?;
            let value = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_owned(), value.clone());
        }
        Ok(Opts { map, command })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    pub fn req(&self, key: &str) -> Result<&str, String> {
        self.get(key).ok_or_else(|| format!("--{key} is required"))
    }

    pub fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{key}: bad number {v}")),
        }
    }

    /// The `--tag k=v,k=v` pairs.
    pub fn tags(&self) -> Vec<(String, String)> {
        self.get("tag")
            .unwrap_or("")
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}
