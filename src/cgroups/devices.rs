//! Device access rules: the spec's `linux.resources.devices` list followed by
//! the devices every container may use (runc's default allow list), in the
//! v1 text form `type major:minor access`. v1 applies them in order to
//! devices.deny/devices.allow.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// One rule, already in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// 'a', 'c' or 'b'.
    pub kind: char,
    /// None = any (`*`).
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Some of "rwm".
    pub access: String,
}

impl Rule {
    /// The v1 devices.allow/devices.deny line.
    pub fn v1_line(&self) -> String {
        if self.kind == 'a' {
            return "a".into();
        }
        let n = |v: Option<i64>| v.map_or("*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

/// Devices every container may use, whatever the spec says (appended
/// after the spec's rules, as runc does): mknod of any node, and the
/// standard character devices.
pub fn default_allowed() -> Vec<Rule> {
    let r = |kind, major, minor, access: &str| Rule {
        allow: true,
        kind,
        major,
        minor,
        access: access.into(),
    };
    vec![
        r('c', None, None, "m"),
        r('b', None, None, "m"),
        r('c', Some(1), Some(3), "rwm"), // null
        r('c', Some(1), Some(8), "rwm"), // random
        r('c', Some(1), Some(7), "rwm"), // full
        r('c', Some(5), Some(0), "rwm"), // tty
        r('c', Some(1), Some(5), "rwm"), // zero
        r('c', Some(1), Some(9), "rwm"), // urandom
        r('c', Some(136), None, "rwm"),  // pts/*
        r('c', Some(5), Some(2), "rwm"), // ptmx
    ]
}

/// The spec's rules in order, then the defaults.
pub fn rules(spec: &[LinuxDeviceCgroup]) -> Vec<Rule> {
    let mut out: Vec<Rule> = spec
        .iter()
        .map(|d| Rule {
            allow: d.allow(),
            kind: match d.typ() {
                None | Some(LinuxDeviceType::A) => 'a',
                Some(LinuxDeviceType::B) => 'b',
                Some(_) => 'c',
            },
            major: d.major().filter(|m| *m >= 0),
            minor: d.minor().filter(|m| *m >= 0),
            access: d
                .access()
                .clone()
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "rwm".into()),
        })
        .collect();
    out.extend(default_allowed());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_all_then_defaults() {
        let mut deny = LinuxDeviceCgroup::default();
        deny.set_allow(false);
        deny.set_access(Some("rwm".into()));
        let r = rules(&[deny]);
        assert_eq!(r[0].v1_line(), "a");
        assert!(!r[0].allow);
        assert!(r.iter().any(|x| x.allow && x.v1_line() == "c 1:3 rwm"));
        assert!(r.iter().any(|x| x.allow && x.v1_line() == "c 136:* rwm"));
    }
}

/// v1's meaning of a rule list, for one access: the last rule that matches
/// the device and names the access decides; none matching means allowed
/// (a cgroup starts allowing everything). `kind` is 'c' or 'b', `access`
/// one of 'r', 'w', 'm'.
pub fn allows(rules: &[Rule], kind: char, major: i64, minor: i64, access: char) -> bool {
    rules
        .iter()
        .rev()
        .find(|r| {
            (r.kind == 'a' || r.kind == kind)
                && r.major.is_none_or(|m| m == major)
                && r.minor.is_none_or(|m| m == minor)
                && r.access.contains(access)
        })
        .is_none_or(|r| r.allow)
}

/// One eBPF instruction (linux/bpf.h `struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst in the low nibble, src in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const LDX_W_MEM: u8 = 0x61;
const MOV64_K: u8 = 0xb7;
const MOV64_X: u8 = 0xbf;
const AND64_K: u8 = 0x57;
const RSH64_K: u8 = 0x77;
const JEQ_K: u8 = 0x15;
const JNE_K: u8 = 0x55;
const JA: u8 = 0x05;
const EXIT: u8 = 0x95;

/// `bpf_cgroup_dev_ctx.access_type`: type in the low 16 bits, access in the high.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// Compiles the rules into a BPF_PROG_TYPE_CGROUP_DEVICE program with the
/// same meaning as the v1 list (see `allows`): for each access bit the
/// request has, the rules are tried from last to first; the first that
/// matches allows (go on with the next bit) or denies (return 0).
///
/// Registers: r2 type, r3 access, r4 major, r5 minor (from the context in r1).
pub fn bpf_program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W_MEM, 2, 1, 0, 0), // r2 = access_type
        insn(LDX_W_MEM, 4, 1, 4, 0), // r4 = major
        insn(LDX_W_MEM, 5, 1, 8, 0), // r5 = minor
        insn(MOV64_X, 3, 2, 0, 0),
        insn(RSH64_K, 3, 0, 0, 16),     // r3 = access
        insn(AND64_K, 2, 0, 0, 0xffff), // r2 = type
    ];
    for (bit, letter) in [(ACC_MKNOD, 'm'), (ACC_READ, 'r'), (ACC_WRITE, 'w')] {
        // One block per bit: skip it when the request lacks the bit.
        let mut block: Vec<Insn> = Vec::new();
        for r in rules.iter().rev().filter(|r| r.access.contains(letter)) {
            let mut checks: Vec<(u8, i32)> = Vec::new();
            match r.kind {
                'c' => checks.push((2, DEV_CHAR)),
                'b' => checks.push((2, DEV_BLOCK)),
                _ => {}
            }
            if let Some(m) = r.major {
                checks.push((4, m as i32));
            }
            if let Some(m) = r.minor {
                checks.push((5, m as i32));
            }
            // A failed check jumps past this rule: past the remaining checks and the verdict.
            let verdict: Vec<Insn> = if r.allow {
                vec![insn(JA, 0, 0, i16::MAX, 0)] // patched below: to the end of the block
            } else {
                vec![insn(MOV64_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]
            };
            let n = checks.len();
            for (i, (reg, v)) in checks.into_iter().enumerate() {
                let skip = (n - i - 1 + verdict.len()) as i16;
                block.push(insn(JNE_K, reg, 0, skip, v));
            }
            block.extend(verdict);
        }
        // Point every "allowed" jump at the end of the block.
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JA && ins.off == i16::MAX {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.push(insn(MOV64_X, 6, 3, 0, 0));
        p.push(insn(AND64_K, 6, 0, 0, bit));
        p.push(insn(JEQ_K, 6, 0, len as i16, 0));
        p.extend(block);
    }
    p.push(insn(MOV64_K, 0, 0, 0, 1));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

#[cfg(test)]
mod bpf_tests {
    use super::*;

    /// Just enough of an eBPF interpreter for the instructions bpf_program emits.
    fn run(p: &[Insn], access_type: u32, major: u32, minor: u32) -> u64 {
        let ctx = [access_type, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W_MEM => r[dst] = u64::from(ctx[(i.off / 4) as usize]),
                MOV64_K => r[dst] = i.imm as i64 as u64,
                MOV64_X => r[dst] = r[src],
                AND64_K => r[dst] &= i.imm as i64 as u64,
                RSH64_K => r[dst] >>= i.imm,
                JEQ_K if r[dst] == i.imm as i64 as u64 => pc += i.off as usize,
                JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JEQ_K | JNE_K => {}
                JA => pc += i.off as usize,
                EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn rule(allow: bool, kind: char, major: Option<i64>, minor: Option<i64>, access: &str) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    #[test]
    fn the_program_means_what_the_v1_list_means() {
        let lists = [
            rules(&[]),
            vec![rule(false, 'a', None, None, "rwm")],
            vec![
                rule(true, 'a', None, None, "rwm"),
                rule(false, 'c', Some(1), Some(11), "w"),
            ],
            vec![
                rule(false, 'a', None, None, "rwm"),
                rule(true, 'c', Some(1), None, "r"),
                rule(false, 'c', Some(1), Some(3), "r"),
            ],
            vec![
                rule(true, 'b', Some(8), None, "rw"),
                rule(false, 'c', None, Some(0), "m"),
            ],
        ];
        for rules in &lists {
            let p = bpf_program(rules);
            for (kind, t) in [('c', DEV_CHAR), ('b', DEV_BLOCK)] {
                for major in [0, 1, 5, 8, 136] {
                    for minor in [0, 3, 5, 11] {
                        for mask in 1..8 {
                            let want = [('m', ACC_MKNOD), ('r', ACC_READ), ('w', ACC_WRITE)]
                                .iter()
                                .filter(|(_, b)| mask & b != 0)
                                .all(|(l, _)| allows(rules, kind, major, minor, *l));
                            let at = (mask << 16 | t) as u32;
                            let got = run(&p, at, major as u32, minor as u32) == 1;
                            assert_eq!(
                                got, want,
                                "{kind} {major}:{minor} access {mask} with {rules:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn deny_all_keeps_the_default_devices_usable() {
        let r = rules(&[LinuxDeviceCgroup::default()].map(|mut d| {
            d.set_allow(false);
            d
        }));
        assert!(allows(&r, 'c', 1, 3, 'w'), "/dev/null");
        assert!(allows(&r, 'c', 136, 4, 'r'), "a pts");
        assert!(!allows(&r, 'c', 1, 11, 'w'), "/dev/kmsg");
        assert!(allows(&r, 'c', 1, 11, 'm'), "mknod of anything");
    }
}
