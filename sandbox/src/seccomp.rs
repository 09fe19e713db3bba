//! The system calls code in a bubblewrap sandbox may not make, as a seccomp filter bubblewrap
//! loads (`--seccomp FD`): what Docker's default profile refuses an unprivileged container —
//! kernel keyrings (the host session's keyring among them), io_uring, ptrace, eBPF, perf events,
//! userfaultfd, kernel modules, mounts and new namespaces, kexec, reboot, clock and swap
//! changes, other processes' memory — each refused with `EPERM` (`clone3` with `ENOSYS`, so the C
//! library falls back to `clone`, whose namespace flags are checked). Everything else is allowed;
//! a call for another architecture (32-bit on x86_64) kills the process, and on x86_64 every
//! call of the x32 ABI is refused (x32 has numbers of its own — its `ptrace` is 521 — that a
//! list of x86_64 numbers would miss; nothing in the sandbox needs x32).

use std::collections::BTreeMap;

use seccompiler::{
    BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, sock_filter,
};

/// Refused outright.
const DENIED: &[i64] = &[
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kcmp,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_fanotify_init,
    libc::SYS_quotactl,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_syslog,
    libc::SYS_acct,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_personality,
];

/// `clone` flags that make a new namespace.
const NAMESPACES: &[u64] = &[
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWCGROUP as u64,
];

fn errno(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> Result<BpfProgram, BackendError> {
    // An architecture seccompiler does not know is its error too ("unsupported architecture").
    let arch = std::env::consts::ARCH.try_into()?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno.unsigned_abs()),
        arch,
    )?;
    filter.try_into()
}

/// Refuses (`EPERM`) every x32 call: those made under the x86_64 architecture with bit 30 of the
/// number set. seccompiler matches numbers one by one, not a range, so these six instructions
/// are written out; calls of other architectures pass on to the filters above.
fn no_x32() -> BpfProgram {
    const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    // Offsets in `struct seccomp_data`: the number at 0, the architecture at 4.
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    let load = |k| sock_filter {
        code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |op: u32, k, jt, jf| sock_filter {
        code: (libc::BPF_JMP | op | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let answer = |k| sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k,
    };
    vec![
        load(ARCH),
        // Not x86_64: on to the allow at the end.
        jump(libc::BPF_JEQ, AUDIT_ARCH_X86_64, 0, 3),
        load(NR),
        jump(libc::BPF_JGE, X32_SYSCALL_BIT, 0, 1),
        answer(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        answer(libc::SECCOMP_RET_ALLOW),
    ]
}

/// The filters, each as bubblewrap reads one from a file descriptor (BPF instructions in native
/// byte order, back to back). Two filters, as the kernel runs every loaded filter and takes the
/// strictest answer: `EPERM` for the refused calls, `ENOSYS` for `clone3`.
pub(crate) fn programs() -> Result<Vec<Vec<u8>>, BackendError> {
    let mut denied: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|nr| (*nr, Vec::new())).collect();
    let namespace_rules = NAMESPACES
        .iter()
        .map(|flag| {
            SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(*flag),
                *flag,
            )
            .and_then(|c| SeccompRule::new(vec![c]))
        })
        .collect::<Result<Vec<_>, _>>()?;
    denied.insert(libc::SYS_clone, namespace_rules);
    let eperm = errno(denied, libc::EPERM)?;
    let enosys = errno(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        libc::ENOSYS,
    )?;
    let mut programs = vec![eperm, enosys];
    if cfg!(target_arch = "x86_64") {
        programs.push(no_x32());
    }
    Ok(programs.iter().map(bytes).collect())
}

/// A program as the kernel reads it: BPF instructions in native byte order, back to back.
fn bytes(program: &BpfProgram) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(program.len() * 8);
    for insn in program {
        bytes.extend_from_slice(&insn.code.to_ne_bytes());
        bytes.push(insn.jt);
        bytes.push(insn.jf);
        bytes.extend_from_slice(&insn.k.to_ne_bytes());
    }
    bytes
}

/// `which` of `setpriority` for one process (`PRIO_PROCESS`).
const PRIO_PROCESS: u64 = 0;
/// `which` of `ioprio_set` for one process (`IOPRIO_WHO_PROCESS`).
const IOPRIO_WHO_PROCESS: u64 = 1;

/// The filter the runner puts on code alone where both share one uid (bubblewrap): the calls that
/// change another process of the same uid by naming it — a resource limit (`prlimit`: a CPU limit
/// of one second kills the runner, no open files breaks it), priority, scheduler, CPU set, I/O
/// class — are refused with `EPERM` unless they name the caller itself (`0`). Signals are kept
/// in by the runner's Landlock scope instead, which still lets code signal its own children.
pub(crate) fn code_program() -> Result<Vec<u8>, BackendError> {
    // 32-bit comparisons: pids and these selectors are C `int`s, whose upper bits the kernel
    // ignores.
    let is_not = |arg: u8, value: u64| {
        SeccompCondition::new(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, value)
            .and_then(|c| SeccompRule::new(vec![c]))
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for call in [
        libc::SYS_prlimit64,
        libc::SYS_sched_setaffinity,
        libc::SYS_sched_setscheduler,
        libc::SYS_sched_setparam,
        libc::SYS_sched_setattr,
    ] {
        rules.insert(call, vec![is_not(0, 0)?]);
    }
    rules.insert(
        libc::SYS_setpriority,
        vec![is_not(0, PRIO_PROCESS)?, is_not(1, 0)?],
    );
    rules.insert(
        libc::SYS_ioprio_set,
        vec![is_not(0, IOPRIO_WHO_PROCESS)?, is_not(1, 0)?],
    );
    errno(rules, libc::EPERM).map(|program| bytes(&program))
}
