//! Just enough ELF to tell whether a file could be loaded as an NSS module
//! here: right class and machine, a shared object, and the entry points it
//! exports. Reading the dynamic symbol table is safe Rust; loading the module
//! with `dlopen` would run foreign code inside the CLI for no extra insight.

use std::fs::File;
use std::io::Read;
use std::path::Path;

const ET_DYN: u16 = 3;
const SHT_DYNSYM: u32 = 11;
const SHN_UNDEF: u16 = 0;

/// What a shared object is and which symbols it defines.
pub struct SharedObject {
    pub exports: Vec<String>,
}

/// Why a file cannot be an NSS module on this machine.
pub enum NotLoadable {
    Unreadable(String),
    NotElf,
    WrongClass,
    WrongMachine(u16),
    NotSharedObject,
    Truncated,
}

impl std::fmt::Display for NotLoadable {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            NotLoadable::Unreadable(e) => write!(f, "unreadable: {e}"),
            NotLoadable::NotElf => f.write_str("not an ELF file"),
            NotLoadable::WrongClass => f.write_str("built for another word size (32/64-bit)"),
            NotLoadable::WrongMachine(m) => write!(f, "built for another CPU (ELF machine {m})"),
            NotLoadable::NotSharedObject => f.write_str("not a shared object"),
            NotLoadable::Truncated => f.write_str("truncated or corrupt ELF file"),
        }
    }
}

fn host_machine() -> Option<u16> {
    Some(match std::env::consts::ARCH {
        "x86" => 3,
        "x86_64" => 62,
        "arm" => 40,
        "aarch64" => 183,
        "powerpc" => 20,
        "powerpc64" => 21,
        "s390x" => 22,
        "riscv64" => 243,
        "loongarch64" => 258,
        "mips" | "mips64" => 8,
        _ => return None,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    little: bool,
    wide: bool,
}

impl Reader<'_> {
    fn get<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.bytes.get(at..at.checked_add(N)?)?.try_into().ok()
    }
    fn u16(&self, at: usize) -> Option<u16> {
        let b = self.get::<2>(at)?;
        Some(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }
    fn u32(&self, at: usize) -> Option<u32> {
        let b = self.get::<4>(at)?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn u64(&self, at: usize) -> Option<u64> {
        let b = self.get::<8>(at)?;
        Some(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }
    /// An address-sized field (`Elf32_Off`/`Elf64_Off`, sizes).
    fn word(&self, at: usize) -> Option<usize> {
        if self.wide {
            usize::try_from(self.u64(at)?).ok()
        } else {
            self.u32(at).map(|v| v as usize)
        }
    }
}

pub fn inspect(path: &Path) -> Result<SharedObject, NotLoadable> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(256 << 20).read_to_end(&mut bytes))
        .map_err(|e| {
            NotLoadable::Unreadable(crate::report::errno_text(e.raw_os_error().unwrap_or(0)))
        })?;
    parse(&bytes)
}

pub fn parse(bytes: &[u8]) -> Result<SharedObject, NotLoadable> {
    if bytes.len() < 16 || &bytes[..4] != b"\x7fELF" {
        return Err(NotLoadable::NotElf);
    }
    let wide = match bytes[4] {
        1 => false,
        2 => true,
        _ => return Err(NotLoadable::NotElf),
    };
    if wide != cfg!(target_pointer_width = "64") {
        return Err(NotLoadable::WrongClass);
    }
    let little = match bytes[5] {
        1 => true,
        2 => false,
        _ => return Err(NotLoadable::NotElf),
    };
    let r = Reader {
        bytes,
        little,
        wide,
    };
    let truncated = NotLoadable::Truncated;
    let e_type = r.u16(16).ok_or(NotLoadable::Truncated)?;
    let machine = r.u16(18).ok_or(NotLoadable::Truncated)?;
    if host_machine().is_some_and(|m| m != machine) || little != cfg!(target_endian = "little") {
        return Err(NotLoadable::WrongMachine(machine));
    }
    if e_type != ET_DYN {
        return Err(NotLoadable::NotSharedObject);
    }
    let (shoff, shentsize, shnum) = if wide {
        (r.word(0x28), r.u16(0x3a), r.u16(0x3c))
    } else {
        (r.word(0x20), r.u16(0x2e), r.u16(0x30))
    };
    let (shoff, shentsize, shnum) = match (shoff, shentsize, shnum) {
        (Some(o), Some(e), Some(n)) => (o, e as usize, n as usize),
        _ => return Err(truncated),
    };
    // Section header fields: (type, link, offset, size, entsize).
    let section = |i: usize| -> Option<(u32, u32, usize, usize, usize)> {
        let at = shoff.checked_add(i.checked_mul(shentsize)?)?;
        if wide {
            Some((
                r.u32(at + 4)?,
                r.u32(at + 0x28)?,
                r.word(at + 0x18)?,
                r.word(at + 0x20)?,
                r.word(at + 0x38)?,
            ))
        } else {
            Some((
                r.u32(at + 4)?,
                r.u32(at + 0x18)?,
                r.word(at + 0x10)?,
                r.word(at + 0x14)?,
                r.word(at + 0x24)?,
            ))
        }
    };
    let mut exports = Vec::new();
    for i in 0..shnum {
        let (kind, link, offset, size, entsize) = section(i).ok_or(NotLoadable::Truncated)?;
        if kind != SHT_DYNSYM || entsize == 0 {
            continue;
        }
        let (_, _, str_offset, str_size, _) =
            section(link as usize).ok_or(NotLoadable::Truncated)?;
        let strings = bytes
            .get(str_offset..str_offset.saturating_add(str_size))
            .ok_or(NotLoadable::Truncated)?;
        for s in 0..size / entsize {
            let at = offset + s * entsize;
            let (name, shndx) = if wide {
                (r.u32(at), r.u16(at + 6))
            } else {
                (r.u32(at), r.u16(at + 14))
            };
            let (Some(name), Some(shndx)) = (name, shndx) else {
                return Err(NotLoadable::Truncated);
            };
            if shndx == SHN_UNDEF || name == 0 {
                continue;
            }
            let Some(rest) = strings.get(name as usize..) else {
                continue;
            };
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            exports.push(String::from_utf8_lossy(&rest[..end]).into_owned());
        }
    }
    Ok(SharedObject { exports })
}
