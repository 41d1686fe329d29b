"""Reading qemu-user's logs: the blocks a process ran, the traps it hit, the files its syscalls mapped."""

from __future__ import annotations

from pathlib import Path

from oracles.qemu_log import Region, log_blocks, parse_maps, read_log

AARCH64_LOG = """\
----------------
IN:
0x5500817850:  a9b27bfd  stp      x29, x30, [sp, #-0xe0]!
0x5500817854:  b0000144  adrp     x4, #0x5500840000

----------------
IN: _start
0x5500900000:  d503201f  nop
"""
X86_LOG = """\
----------------
IN:
0x400081bb70:  48 89 e7                 movq     %rsp, %rdi
0x400081bb73:  e8 f8 0b 00 00           callq    0x400081c770
"""
# As qemu 7.2 writes them with QEMU_STRACE=1: the process stops at a brk #0 in a block of its own,
# the log's last line unfinished. brk #0x3e8 (GCC's __builtin_trap) is no trap of the pass.
AARCH64_TRAPPED = """\
----------------
IN:
0x5500e763d8:  910303ff  add      sp, sp, #0xc0
0x5500e763dc:  d63f0120  blr      x9

----------------
IN:
0x5500e80000:  d503201f  nop
0x5500e80004:  d4207d00  brk      #0x3e8

7073 getpid() = 7073
----------------
IN:
0x5500ea0574:  d4200000  brk      #0

--- SIGTRAP {si_signo=SIGTRAP, si_code=1, si_addr=0x0000005500ea0574} ---"""
X86_TRAPPED = """\
----------------
IN:
0x400081bb70:  48 89 e7                 movq     %rsp, %rdi
0x400081bb73:  cc                       int3

----------------
IN:
0x4000900010:  cc                       int3
"""
# How the dynamic loader maps a library, and what the process does with its mappings after.
SYSCALLS = """\
7073 openat(AT_FDCWD,"/tree/libmissing.so",O_RDONLY|O_CLOEXEC) = -1 errno=2 (No such file or directory)
7073 openat(AT_FDCWD,"/tree/pkg/../libs/liba.so",O_RDONLY|O_CLOEXEC) = 4
7073 read(4,0x7ff2d0,832) = 832
7073 mmap(NULL,196640,PROT_NONE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0) = 0x0000005500e95000
7073 mmap(0x0000005500ea0000,131104,PROT_EXEC|PROT_READ,MAP_PRIVATE|MAP_DENYWRITE|MAP_FIXED,4,0) = \
0x0000005500ea0000
7073 munmap(0x0000005500e95000,45056) = 0
7073 mmap(0x0000005500eb0000,8192,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_DENYWRITE|MAP_FIXED,4,0xf000) = \
0x0000005500eb0000
7073 close(4) = 0
7073 mmap(NULL,4096,PROT_READ,MAP_PRIVATE,4,0) = 0x0000005500f00000
7073 open("/tree/libb.so",O_RDONLY) = 4
7073 mmap(NULL,8192,PROT_READ|PROT_EXEC,MAP_PRIVATE,4,0x2000) = 0x0000005500f10000
7073 munmap(0x0000005500ea1000,4096) = 0
7073 munmap(0x0000005500f10000,8192) = 0
"""


def _read(tmp_path: Path, text: str) -> Path:
    log = tmp_path / "qemu-7073.log"
    log.write_text(text)
    return log


def test_blocks_span_from_first_instruction_to_the_end_of_the_last(tmp_path: Path) -> None:
    log = _read(tmp_path, AARCH64_LOG)
    assert list(log_blocks(log)) == [(0x5500817850, 0x5500817858), (0x5500900000, 0x5500900004)]
    log.write_text(X86_LOG)
    assert list(log_blocks(log)) == [(0x400081BB70, 0x400081BB78)]
    assert list(log_blocks(tmp_path / "absent.log")) == []
    assert read_log(tmp_path / "absent.log").traps == []


def test_a_block_ending_in_brk_0_is_a_trap_that_ran(tmp_path: Path) -> None:
    found = read_log(_read(tmp_path, AARCH64_TRAPPED))
    assert found.traps == [0x5500EA0574]
    assert found.blocks[-1] == (0x5500EA0574, 0x5500EA0578), "the unfinished last block counts"
    assert len(found.blocks) == 3 and found.regions == []


def test_a_block_ending_in_int3_is_a_trap_that_ran(tmp_path: Path) -> None:
    found = read_log(_read(tmp_path, X86_TRAPPED))
    assert found.traps == [0x400081BB73, 0x4000900010]
    assert found.blocks == [(0x400081BB70, 0x400081BB74), (0x4000900010, 0x4000900011)]


def test_a_map_rebuilt_from_the_system_calls(tmp_path: Path) -> None:
    """open/openat name descriptors, mmap of one places the file, munmap cuts, close forgets it."""
    found = read_log(_read(tmp_path, AARCH64_TRAPPED.replace("7073 getpid() = 7073\n", SYSCALLS)))
    liba = "/tree/pkg/../libs/liba.so"
    assert found.regions == [
        Region(0x5500EA0000, 0x5500EA1000, "", 0, liba),
        Region(0x5500EA2000, 0x5500EB0000, "", 0x2000, liba),  # a page unmapped in between
        Region(0x5500EB0000, 0x5500EB2000, "", 0xF000, liba),  # mapped over the first mapping
        Region(0x5500EB2000, 0x5500EC0020, "", 0x12000, liba),
    ]
    assert found.traps == [0x5500EA0574], "the syscall lines end no block with a trap"


def test_a_mapping_of_a_closed_descriptor_places_nothing(tmp_path: Path) -> None:
    text = SYSCALLS.split("7073 open(")[0]
    regions = read_log(_read(tmp_path, text)).regions
    assert all(r.start < 0x5500F00000 for r in regions)
    reopened = read_log(_read(tmp_path, SYSCALLS.rsplit("7073 munmap(0x0000005500f10000", 1)[0])).regions
    assert Region(0x5500F10000, 0x5500F12000, "", 0x2000, "/tree/libb.so") in reopened


def test_maps_keep_files_only() -> None:
    maps = """\
400000-916000 r-xp 00000000 fe:00 5448242                    /usr/bin/python3.11
5500800000-5500810000 r--p 00000000 fe:00 1                   /lib/libx.so
5500810000-5500820000 r-xp 0000f000 fe:00 1                   /lib/libx.so
5500830000-5500831000 rw-p 00000000 00:00 0
5500900000-5500901000 r-xp 00000000 00:00 0                   [vdso]
"""
    regions = parse_maps(maps)
    assert [r.path for r in regions] == ["/usr/bin/python3.11", "/lib/libx.so", "/lib/libx.so"]
    assert regions[2] == Region(0x5500810000, 0x5500820000, "r-xp", 0xF000, "/lib/libx.so")
