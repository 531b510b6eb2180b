//! The `hosts:` line of nsswitch.conf: which services, in which order, with
//! which `[STATUS=ACTION]` items, and whether glibc ever reaches ours.

/// glibc's default when nsswitch.conf has no `hosts:` line.
pub const GLIBC_DEFAULT_HOSTS: &str = "dns [!UNAVAIL=return] files";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Success,
    NotFound,
    Unavail,
    TryAgain,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::NotFound => "NOTFOUND",
            Status::Unavail => "UNAVAIL",
            Status::TryAgain => "TRYAGAIN",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    /// Action per status: true = return. glibc's defaults: return on
    /// SUCCESS, continue otherwise (`merge` is treated as continue).
    returns: [bool; 4],
    /// The criteria as written, e.g. `[!UNAVAIL=return]`.
    pub criteria: String,
}

fn index(status: Status) -> usize {
    status as usize
}

impl Service {
    fn new(name: &str) -> Service {
        Service {
            name: name.to_owned(),
            returns: [true, false, false, false],
            criteria: String::new(),
        }
    }

    pub fn returns_on(&self, status: Status) -> bool {
        self.returns[index(status)]
    }

    /// `name [criteria]` as written.
    pub fn display(&self) -> String {
        if self.criteria.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.name, self.criteria)
        }
    }

    fn apply(&mut self, item: &str) -> Result<(), String> {
        let (negated, item) = match item.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, item),
        };
        let (status, action) = item
            .split_once('=')
            .ok_or_else(|| format!("'{item}' is not STATUS=ACTION"))?;
        let status = match status.to_ascii_lowercase().as_str() {
            "success" => Status::Success,
            "notfound" => Status::NotFound,
            "unavail" => Status::Unavail,
            "tryagain" => Status::TryAgain,
            other => return Err(format!("unknown status '{other}'")),
        };
        let returns = match action.to_ascii_lowercase().as_str() {
            "return" => true,
            "continue" | "merge" => false,
            other => return Err(format!("unknown action '{other}'")),
        };
        for s in [
            Status::Success,
            Status::NotFound,
            Status::Unavail,
            Status::TryAgain,
        ] {
            if (s == status) != negated {
                self.returns[index(s)] = returns;
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct HostsLine {
    /// The line as written (after `hosts:`), or glibc's default.
    pub text: String,
    /// Line number in the file; `None` when glibc's default applies.
    pub line_number: Option<usize>,
    pub services: Vec<Service>,
    /// Problems glibc would skip over (unknown status, stray bracket).
    pub errors: Vec<String>,
}

impl HostsLine {
    pub fn position(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }
}

/// Parses the first `hosts:` line of an nsswitch.conf text.
pub fn parse(text: &str) -> HostsLine {
    for (number, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        if key.trim() != "hosts" {
            continue;
        }
        let mut parsed = parse_services(rest.trim());
        parsed.line_number = Some(number + 1);
        return parsed;
    }
    let mut parsed = parse_services(GLIBC_DEFAULT_HOSTS);
    parsed.line_number = None;
    parsed
}

fn parse_services(text: &str) -> HostsLine {
    let mut services: Vec<Service> = Vec::new();
    let mut errors = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(inner) = rest.strip_prefix('[') {
            let Some(end) = inner.find(']') else {
                errors.push("unterminated '['".to_owned());
                break;
            };
            let criteria = &inner[..end];
            match services.last_mut() {
                Some(service) => {
                    for item in criteria.split_whitespace() {
                        if let Err(e) = service.apply(item) {
                            errors.push(e);
                        }
                    }
                    if !service.criteria.is_empty() {
                        service.criteria.push(' ');
                    }
                    service.criteria.push_str(&format!("[{}]", criteria.trim()));
                }
                None => errors.push("an action item before any service".to_owned()),
            }
            rest = &inner[end + 1..];
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '[')
                .unwrap_or(rest.len());
            services.push(Service::new(&rest[..end]));
            rest = &rest[end..];
        }
    }
    HostsLine {
        text: text.to_owned(),
        line_number: None,
        services,
        errors,
    }
}

/// Walks the services in order as glibc does, given the status each one
/// returns for the name; returns the index of the service that answers
/// (where glibc stops) and its status.
pub fn walk(hosts: &HostsLine, status_of: impl Fn(&Service) -> Status) -> Option<(usize, Status)> {
    let mut last = None;
    for (i, service) in hosts.services.iter().enumerate() {
        let status = status_of(service);
        last = Some((i, status));
        if service.returns_on(status) {
            break;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_criteria_and_defaults() {
        let hosts = parse(
            "# comment\npasswd: files\nhosts:  files mymachines resolve [!UNAVAIL=return] dns libvirt # x\n",
        );
        assert_eq!(hosts.line_number, Some(3));
        let names: Vec<&str> = hosts.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["files", "mymachines", "resolve", "dns", "libvirt"]);
        let resolve = &hosts.services[2];
        assert_eq!(resolve.display(), "resolve [!UNAVAIL=return]");
        assert!(resolve.returns_on(Status::NotFound));
        assert!(resolve.returns_on(Status::Success));
        assert!(!resolve.returns_on(Status::Unavail));
        assert!(!hosts.services[0].returns_on(Status::NotFound));
        assert!(hosts.errors.is_empty());
    }

    #[test]
    fn missing_line_is_glibc_default() {
        let hosts = parse("passwd: files\n");
        assert_eq!(hosts.line_number, None);
        assert_eq!(hosts.services.len(), 2);
        assert!(hosts.services[0].returns_on(Status::NotFound));
    }

    #[test]
    fn walk_stops_at_return() {
        let hosts = parse("hosts: files dns [NOTFOUND=return] libvirt");
        assert_eq!(
            walk(&hosts, |_| Status::NotFound),
            Some((1, Status::NotFound))
        );
        assert_eq!(
            walk(&hosts, |s| if s.name == "dns" {
                Status::Unavail
            } else if s.name == "libvirt" {
                Status::Success
            } else {
                Status::NotFound
            }),
            Some((2, Status::Success))
        );
    }
}
