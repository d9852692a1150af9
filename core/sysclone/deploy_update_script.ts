// The update half of the sysclone deploy /init: when the node's disk already holds a clone of
// the image with the same layout, fetch only the files whose contents changed, instead of
// repartitioning and copying the whole image.

/**
 * How an update works (busybox sh and awk on the node):
 * - a clone is recognised by `/etc/osimg/sysclone.id` on its root file system (written by the
 *   full clone: `image=<name> layout=<LAYOUT_ID>`, the layout id a digest of the partition plan),
 *   the partition count and each partition's file system type matching the plan, its file
 *   systems mounting, and the manifest it was installed from, `/etc/osimg/sysclone.manifest`;
 *   anything else (or `osimg.update=no`) gets the full clone;
 * - the node downloads the new manifest (one GET), digests its own files with one
 *   `find | xargs sha256sum`, and awk compares: a file whose type or sha256 differs is fetched,
 *   one GET of `<deploy dir>/files/<sha256>` each; a path the old manifest had and the new one
 *   has not is removed; modes, owners and mtimes that differ are set; symlinks, directories
 *   and device nodes are made locally. Files the node made itself (not in either manifest) and
 *   the node-own paths (formats/sysclone/image_manifest.ts NODE_OWN_PATHS) are left alone;
 * - the guarantee: every download goes to a staging directory `.osimg-update` at the root of the
 *   file system that will hold the file and is checked against its digest; only when all of
 *   them arrived does the node start changing its tree, so a failed download (or a digest that
 *   does not match) removes the staged files and leaves the disk exactly as it was, bootable as
 *   before. Each changed file then replaces the old one by a rename within its file system
 *   (never a half-written file); a power cut during that local phase leaves some files old and
 *   some new, each whole. Then GRUB's menu is regenerated if anything under /boot changed
 *   (nothing is reinstalled), the new manifest replaces the old one, and the node reboots;
 * - limits: extended attributes (file capabilities) of a replaced file are not carried over,
 *   hard links of the image become separate files when one of them changes, file names with a
 *   newline are fetched again on every update, and a symlink is replaced by unlink + symlink.
 */
export const SYSCLONE_UPDATE_AWK = String
  .raw`# osimg sysclone update: what differs between the image's manifest and the node's disk.
# Output, one action a line, names escaped as in the manifest (\ooo):
#   D <path>                                             make a directory
#   F <sha256> <size> <mode> <uid> <gid> <mtime> <staging dir> <path>   fetch a file
#   L <uid> <gid> <target> <path>                        make a symlink
#   N <type> <major:minor|-> <path>                      make a device or fifo
#   R <path>                                             remove (children before parents)
#   M <mode> <uid> <gid> <mtime> <path>                  set metadata (directories last, deepest first)
function esc(s,    i, c) {
  gsub(/\\/, "\\134", s)
  for (i = 1; i < 32; i++) {
    c = sprintf("%c", i)
    if (index(s, c)) gsub(c, sprintf("\\%03o", i), s)
  }
  gsub(/ /, "\\040", s)
  gsub(/\177/, "\\177", s)
  return s
}
function rel(name) {
  sub(/^\.\//, "", name)
  return esc(name)
}
function kind(hex,    c) {
  c = substr(hex, 1, 1)
  if (c == "8") return "f"
  if (c == "4") return "d"
  if (c == "a") return "l"
  if (c == "2") return "c"
  if (c == "6") return "b"
  if (c == "1") return "p"
  return "s"
}
# The staging directory on the file system that holds path: the longest mount point above it.
function staging(path,    i, best) {
  best = ""
  for (i = 1; i <= nmounts; i++) {
    if (length(mounts[i]) > length(best) && index(path, mounts[i] "/") == 1) best = mounts[i]
  }
  return (best == "" ? "" : best "/") ".osimg-update"
}
function metadiffers(p, mode, uid, gid, mtime) {
  return mode != lmode[p] || uid != luid[p] || gid != lgid[p] || mtime != lmtime[p]
}
BEGIN {
  getline keep < keepfile
  while ((getline line < fsfile) > 0) {
    split(line, f, " ")
    if (f[4] != "-" && f[4] != "/") { sub(/^\//, "", f[4]); mounts[++nmounts] = esc(f[4]) }
  }
  while ((getline line < metafile) > 0) {
    split(line, f, " ")
    name = line
    for (i = 1; i <= 5; i++) sub(/^[^ ]* /, "", name)
    p = rel(name)
    if (p == ".") continue
    ltype[p] = kind(f[1]); lmode[p] = f[2]; luid[p] = f[3]; lgid[p] = f[4]; lmtime[p] = f[5]
    order[++nlocal] = p
  }
  while ((getline line < sumfile) > 0) lsum[rel(substr(line, 67))] = substr(line, 1, 64)
  while ((getline line < linkfile) > 0) {
    p = rel(line)
    if ((getline target < linkfile) > 0) ltarget[p] = esc(target)
  }
  getline line < newfile
  while ((getline line < newfile) > 0) {
    split(line, f, " ")
    t = f[1]; p = f[8]
    inimage[p] = 1
    if (p ~ keep) continue
    if (t == "d") {
      if (ltype[p] != "d") { print "D", p; dirs[++ndirs] = "M " f[2] " " f[3] " " f[4] " " f[5] " " p }
      else if (metadiffers(p, f[2], f[3], f[4], f[5])) dirs[++ndirs] = "M " f[2] " " f[3] " " f[4] " " f[5] " " p
    } else if (t == "f") {
      if (ltype[p] != "f" || lsum[p] != f[7]) print "F", f[7], f[6], f[2], f[3], f[4], f[5], staging(p), p
      else if (metadiffers(p, f[2], f[3], f[4], f[5])) print "M", f[2], f[3], f[4], f[5], p
    } else if (t == "l") {
      if (ltype[p] != "l" || ltarget[p] != f[9] || luid[p] != f[3] || lgid[p] != f[4]) print "L", f[3], f[4], f[9], p
    } else {
      if (ltype[p] != t) print "N", t, f[7], p
      if (ltype[p] != t || metadiffers(p, f[2], f[3], f[4], f[5])) print "M", f[2], f[3], f[4], f[5], p
    }
  }
  # What the image had when the node was installed or last updated, and has no more.
  getline line < oldfile
  while ((getline line < oldfile) > 0) {
    split(line, f, " ")
    p = f[8]
    if (!(p in inimage) && (p in ltype) && p !~ keep) gone[p] = 1
  }
  for (i = nlocal; i >= 1; i--) if (order[i] in gone) print "R", order[i]
  for (i = ndirs; i >= 1; i--) print dirs[i]
}
`;

/**
 * The shell functions of the update, for the deploy /init (see {@linkcode SYSCLONE_UPDATE_AWK}
 * for the design): `sysclone_update` returns when the disk holds no clone to update, and
 * otherwise ends the boot itself (reboot, or the failure message with the disk untouched);
 * `write_clone_stamp` is the full clone's part (the stamp and the manifest on the new root).
 */
export function syscloneUpdateFunctions(): string {
  return `# --- sysclone update (core/sysclone/deploy_update_script.ts) ---
clone_id() { echo "image=$IMAGE layout=$LAYOUT_ID"; }
OSIMG_BASE="\${IMGURL%/*}"
R=/target
W=/tmp
UPDATE_AWK=/etc/osimg/sysclone/update.awk
UPDATE_KEEP=/etc/osimg/sysclone/node-own
UPDATE_FILESYSTEMS=/etc/osimg/sysclone/filesystems

# The full clone's part: the stamp that says what is on this disk, and the manifest it is.
write_clone_stamp() {
  mkdir -p /target/etc/osimg
  wget -q -O /target/etc/osimg/sysclone.manifest.new "$OSIMG_BASE/$MANIFEST" ||
    fail "cannot download $OSIMG_BASE/$MANIFEST"
  mv /target/etc/osimg/sysclone.manifest.new /target/etc/osimg/sysclone.manifest
  clone_id > /target/etc/osimg/sysclone.id
}

update_unmount() {
  for mnt in $(grep " /target" /proc/mounts | cut -d' ' -f2 | sort -r); do
    umount "$mnt" 2>/dev/null || umount -l "$mnt"
  done
}

# The staging directories the fetch actions (field 8) name.
drop_staging() {
  for dir in $(grep '^F ' $W/actions 2>/dev/null | cut -d' ' -f8 | sort -u); do
    case "$dir" in .osimg-update|*/.osimg-update) rm -rf "$R/$(printf '%b' "$dir")" ;; esac
  done
}

# A download failed: drop what was staged; nothing else on the disk was changed yet.
update_fail() {
  drop_staging
  update_unmount
  say "the disk $DISK was not changed: it boots as before"
  fail "$*"
}

# 0 (with its file systems mounted on /target) when $DISK holds a clone of $IMAGE made from
# this layout.
clone_matches() {
  # A layout with LVM is cloned again in full: this path does not activate volume groups.
  [ "$LVM" = yes ] && return 1
  count=0
  for part in /sys/block/$DISK_NAME/$DISK_NAME*; do [ -e "$part" ] && count=$((count + 1)); done
  [ "$count" = "$PARTITIONS" ] || return 1
  while read -r number type label mountpoint options dump pass; do
    [ "$(/osimg/bin/blkid -p -s TYPE -o value "$(fs_device "$number")" 2>/dev/null)" = "$type" ] || return 1
  done < /etc/osimg/sysclone/filesystems
  while read -r number type label mountpoint options dump pass; do
    [ "$mountpoint" = - ] && continue
    mkdir -p "/target$mountpoint"
    mount -t "$type" "$(fs_device "$number")" "/target$mountpoint" 2>/dev/null || { update_unmount; return 1; }
  done < /etc/osimg/sysclone/filesystems
  if [ "$(cat /target/etc/osimg/sysclone.id 2>/dev/null)" != "$(clone_id)" ] ||
    [ ! -f /target/etc/osimg/sysclone.manifest ]; then
    update_unmount
    return 1
  fi
}

# Sets mode, owner and mtime (the owner first: chown clears setuid); a file system without
# owners (vfat) refuses some, which is no error.
set_meta() {
  chown -h "$3:$4" "$1" 2>/dev/null
  [ -L "$1" ] || chmod "$2" "$1" 2>/dev/null
  touch -c -h -d "@$5" "$1" 2>/dev/null
  return 0
}

# Brings the tree at $1 to the manifest $W/manifest (the old one is $1/etc/osimg/sysclone.manifest):
# sets fetched, bytes, updated, removed, changed, and boot=yes when something under /boot changed.
update_tree() {
  R="$1"
  cd "$R" || update_fail "cannot enter $R"
  # Earlier staging directories (a power cut during an update) go first.
  find . -name .osimg-update -prune -exec rm -rf {} + 2>/dev/null
  find . -print0 | xargs -0 -r stat -c '%f %a %u %g %Y %n' > $W/local.meta
  find . -type f -print0 | xargs -0 -r sha256sum > $W/local.sum
  find . -type l -print0 | xargs -0 -r sh -c 'for link; do echo "$link"; readlink "$link"; done' sh > $W/local.links
  cd /
  awk -v keepfile="$UPDATE_KEEP" -v fsfile="$UPDATE_FILESYSTEMS" \\
    -v metafile=$W/local.meta -v sumfile=$W/local.sum -v linkfile=$W/local.links \\
    -v newfile=$W/manifest -v oldfile="$R/etc/osimg/sysclone.manifest" \\
    -f "$UPDATE_AWK" > $W/actions || update_fail "cannot compare the manifest with $DISK"

  # 1. Every changed file into staging, checked; a failure here changes nothing.
  fetched=0
  bytes=0
  while read -r kind digest size mode uid gid mtime stage path; do
    [ "$kind" = F ] || continue
    dir="$R/$(printf '%b' "$stage")"
    mkdir -p "$dir" || update_fail "cannot make $dir"
    [ -f "$dir/$digest" ] && continue
    wget -q -O "$dir/$digest.part" "$OSIMG_BASE/files/$digest" ||
      update_fail "cannot download $OSIMG_BASE/files/$digest ($(printf '%b' "$path"))"
    [ "$(sha256sum < "$dir/$digest.part" | cut -d' ' -f1)" = "$digest" ] ||
      update_fail "$OSIMG_BASE/files/$digest is not what the manifest says (was the image captured again after nodeset?)"
    mv "$dir/$digest.part" "$dir/$digest"
    fetched=$((fetched + 1))
    bytes=$((bytes + size))
  done < $W/actions

  # 2. The tree: each file renamed into place whole, within its file system.
  updated=0
  removed=0
  changed=0
  boot=no
  while read -r kind a b c d e f g h; do
    rel=
    case "$kind" in
      D) rel="$a"
         path="$R/$(printf '%b' "$a")"
         [ -d "$path" ] && [ ! -L "$path" ] || { rm -rf "$path"; mkdir "$path"; } ;;
      F) rel="$h"
         path="$R/$(printf '%b' "$h")"
         dir="$R/$(printf '%b' "$g")"
         cp "$dir/$a" "$dir/$a.new" || fail "cannot copy $dir/$a on $DISK"
         set_meta "$dir/$a.new" "$c" "$d" "$e" "$f"
         if [ -L "$path" ] || [ -d "$path" ]; then rm -rf "$path"; fi
         mv -f "$dir/$a.new" "$path" || fail "cannot rename $dir/$a.new to $path"
         updated=$((updated + 1)) ;;
      L) rel="$d"
         path="$R/$(printf '%b' "$d")"
         [ -d "$path" ] && [ ! -L "$path" ] && rm -rf "$path"
         ln -sfn "$(printf '%b' "$c")" "$path" || fail "cannot make the symlink $path"
         chown -h "$a:$b" "$path" 2>/dev/null ;;
      N) rel="$c"
         path="$R/$(printf '%b' "$c")"
         rm -rf "$path"
         if [ "$a" = p ]; then mkfifo "$path"; else mknod "$path" "$a" "\${b%:*}" "\${b#*:}"; fi ;;
      R) rel="$a"
         path="$R/$(printf '%b' "$a")"
         rm -rf "$path"
         removed=$((removed + 1)) ;;
      M) path="$R/$(printf '%b' "$e")"
         set_meta "$path" "$a" "$b" "$c" "$d"
         changed=$((changed + 1)) ;;
      *) continue ;;
    esac
    case "$rel" in boot/*) boot=yes ;; esac
  done < $W/actions
  drop_staging

}

sysclone_update() {
  case " $(cat /proc/cmdline) " in *" osimg.update=no "*) return 0 ;; esac
  if ! clone_matches; then
    say "$DISK holds no clone of $IMAGE with this layout: a full clone"
    return 0
  fi
  say "$DISK holds a clone of $IMAGE: updating what changed"
  wget -q -O $W/manifest "$OSIMG_BASE/$MANIFEST" || update_fail "cannot download $OSIMG_BASE/$MANIFEST"
  [ "$(head -n 1 $W/manifest)" = "osimg-sysclone-manifest 1" ] ||
    update_fail "$OSIMG_BASE/$MANIFEST is not an osimg sysclone manifest"
  update_tree /target
  if [ "$boot" = yes ]; then
    say "files under /boot changed: regenerating the GRUB menu"
    mount -t proc proc /target/proc
    mount -t sysfs sysfs /target/sys
    mount -o bind /dev /target/dev
    in_target grub-mkconfig -o /boot/grub/grub.cfg >$W/grub.log 2>&1 ||
      fail "grub-mkconfig failed: $(tail -n 3 $W/grub.log | tr '\\n' ' ')"
  fi
  mv $W/manifest /target/etc/osimg/sysclone.manifest.new &&
    mv /target/etc/osimg/sysclone.manifest.new /target/etc/osimg/sysclone.manifest
  sync
  update_unmount
  sync
  say "$NODE is updated from $IMAGE on $DISK: $updated files updated ($fetched fetched, $bytes bytes), $removed removed, $changed changed in place; $DONE"
  if [ "$DONE" = poweroff ]; then poweroff -f; else reboot -f; fi
  exit 0
}
# --- end of sysclone update ---
`;
}
