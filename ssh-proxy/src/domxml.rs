//! What the proxy needs from a domain's live XML: its VSOCK CID and its
//! NICs' MAC addresses.

use roxmltree::{Document, Node};

/// The facts routes are planned from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainFacts {
    /// `/domain/devices/vsock` exists.
    pub has_vsock: bool,
    /// `/domain/devices/vsock/cid/@address`, as libvirt's proxy reads it
    /// (the first that parses). `<cid auto='yes'/>` has one only while the
    /// domain runs.
    pub cid: Option<u64>,
    pub nics: Vec<Nic>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nic {
    /// `interface/@type`: network, bridge, user, direct, ...
    pub kind: String,
    /// `mac/@address`.
    pub mac: Option<String>,
    /// `mac/@currentAddress` (libvirt 11.2+: the MAC the guest set).
    pub current_mac: Option<String>,
    /// `source/@network` or `source/@bridge`, whichever names it.
    pub source: Option<String>,
    /// `source/@bridge` (live XML of a `network` NIC has it too).
    pub bridge: Option<String>,
}

impl Nic {
    /// The MACs a lease of this NIC may be recorded under.
    pub fn macs(&self) -> impl Iterator<Item = &str> {
        self.mac
            .iter()
            .chain(self.current_mac.iter())
            .map(String::as_str)
    }
}

pub fn parse(xml: &str) -> Result<DomainFacts, String> {
    let doc = Document::parse(xml).map_err(|e| format!("domain XML: {e}"))?;
    let root = doc.root_element();
    if !root.has_tag_name("domain") {
        return Err(format!("domain XML: root is <{}>", root.tag_name().name()));
    }
    let mut facts = DomainFacts::default();
    for devices in children(root, "devices") {
        for vsock in children(devices, "vsock") {
            facts.has_vsock = true;
            let cid = children(vsock, "cid")
                .find_map(|cid| cid.attribute("address")?.parse::<u64>().ok());
            facts.cid = facts.cid.or(cid);
        }
        for iface in children(devices, "interface") {
            let mac = children(iface, "mac").next();
            let source = children(iface, "source").next();
            facts.nics.push(Nic {
                kind: iface.attribute("type").unwrap_or("").to_string(),
                mac: mac.and_then(|m| m.attribute("address")).map(str::to_string),
                current_mac: mac
                    .and_then(|m| m.attribute("currentAddress"))
                    .map(str::to_string),
                source: source
                    .and_then(|s| s.attribute("network").or_else(|| s.attribute("bridge")))
                    .map(str::to_string),
                bridge: source
                    .and_then(|s| s.attribute("bridge"))
                    .map(str::to_string),
            });
        }
    }
    Ok(facts)
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(move |n| n.has_tag_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Live XML of a running domain as libvirt 9.0 writes it (trimmed).
    const RUNNING: &str = r#"<domain type='kvm' id='3'>
  <name>web</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <devices>
    <interface type='network'>
      <mac address='52:54:00:ab:cd:01'/>
      <source network='default' portid='0c6e1f4e-0000-4000-8000-000000000001' bridge='virbr0'/>
      <target dev='vnet0'/>
      <model type='virtio'/>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:AB:CD:02' currentAddress='52:54:00:ab:cd:99'/>
      <source bridge='br0'/>
    </interface>
    <vsock model='virtio'>
      <cid auto='yes' address='5'/>
      <alias name='vsock0'/>
    </vsock>
  </devices>
</domain>"#;

    #[test]
    fn cid_and_nics_from_live_xml() {
        let facts = parse(RUNNING).unwrap();
        assert!(facts.has_vsock);
        assert_eq!(facts.cid, Some(5));
        assert_eq!(facts.nics.len(), 2);
        assert_eq!(facts.nics[0].kind, "network");
        assert_eq!(facts.nics[0].source.as_deref(), Some("default"));
        assert_eq!(facts.nics[0].bridge.as_deref(), Some("virbr0"));
        assert_eq!(
            facts.nics[0].macs().collect::<Vec<_>>(),
            ["52:54:00:ab:cd:01"]
        );
        assert_eq!(
            facts.nics[1].macs().collect::<Vec<_>>(),
            ["52:54:00:AB:CD:02", "52:54:00:ab:cd:99"]
        );
    }

    #[test]
    fn auto_cid_without_address_is_no_cid() {
        let facts = parse(
            "<domain><devices><vsock model='virtio'><cid auto='yes'/></vsock></devices></domain>",
        )
        .unwrap();
        assert!(facts.has_vsock);
        assert_eq!(facts.cid, None);
    }

    #[test]
    fn no_vsock_and_no_nics() {
        let facts = parse("<domain type='kvm'><name>x</name><devices/></domain>").unwrap();
        assert_eq!(facts, DomainFacts::default());
    }

    #[test]
    fn unparsable_cid_is_skipped_as_libvirt_does() {
        let facts = parse("<domain><devices><vsock><cid address='x'/><cid address='7'/></vsock></devices></domain>").unwrap();
        assert_eq!(facts.cid, Some(7));
    }

    #[test]
    fn only_devices_count() {
        // A <vsock> or <interface> in metadata is not a device.
        let xml = "<domain><metadata><vsock><cid address='9'/></vsock><interface><mac address='x'/></interface></metadata><devices/></domain>";
        assert_eq!(parse(xml).unwrap(), DomainFacts::default());
    }

    #[test]
    fn not_a_domain() {
        assert!(parse("<network/>").is_err());
        assert!(parse("<domain>").is_err());
        assert!(parse("").is_err());
    }
}
