// Regenerates testdata/bundles/*.manifest.xml and their *.xmlin.json with real Perl XML::Simple.
//
// The manifests are written by XML::Simple with imgexport's exact options (imgport.pm L911-916),
// and every manifest (including the four copied from the reference, §2.4-2.5) is read back with
// imgimport's plain XMLin and saved as JSON, so the tests compare our writer and reader against
// the real library without needing Perl at test time.
// Needs Debian's libxml-simple-perl (apt-get install libxml-simple-perl). Review every diff.
//
//   deno run -A scripts/gen_manifest_fixtures.ts

const dir = new URL("../testdata/bundles/", import.meta.url).pathname;

const install = {
  imagename: "rhels8.8.0-x86_64-install-compute",
  imagetype: "linux",
  osarch: "x86_64",
  osdistroname: "rhels8.8.0-x86_64",
  osname: "Linux",
  osvers: "rhels8.8.0",
  profile: "compute",
  provmethod: "install",
};
const installLinux = {
  addkcmdline: "quiet",
  imagename: "rhels8.8.0-x86_64-install-compute",
  otherpkgdir: "/install/post/otherpkgs/rhels8.8.0/x86_64",
  partitionfile: "/install/custom/my.partition",
  pkgdir: "/install/rhels8.8.0/x86_64",
  pkglist: "/opt/xcat/share/xcat/install/rh/compute.rhels8.pkglist",
  template: "/opt/xcat/share/xcat/install/rh/compute.rhels8.tmpl",
};
const kitName = "xlc-13.1.6-0-rhels-7-x86_64";
const component = (base: string) => ({
  basename: base,
  kitcompname: `${base}-13.1.6-0-rhels-7-x86_64`,
  kitname: kitName,
  kitreponame: kitName,
  release: "0",
  serverroles: "compute",
  version: "13.1.6",
});
const kits = {
  osimage: {
    ...install,
    kitcomponents:
      "xlc.compiler-compute-13.1.6-0-rhels-7-x86_64,xlc.rte-compute-13.1.6-0-rhels-7-x86_64",
  },
  linuximage: installLinux,
  media: "required",
  kit: {
    [kitName]: {
      basename: "xlc",
      description: "XLC for Linux",
      kitdir: `/install/kits/${kitName}`,
      kitname: kitName,
      ostype: "Linux",
      release: "0",
      version: "13.1.6",
    },
  },
  kitrepo: {
    [kitName]: {
      kitname: kitName,
      kitrepodir: `/install/kits/${kitName}/repos/${kitName}`,
      kitreponame: kitName,
      osarch: "x86_64",
      osbasename: "rhels",
      osmajorversion: "7",
    },
  },
  kitcomp: {
    "xlc.compiler-compute-13.1.6-0-rhels-7-x86_64": component("xlc.compiler-compute"),
    "xlc.rte-compute-13.1.6-0-rhels-7-x86_64": component("xlc.rte-compute"),
  },
};

/** name -> [data, KeyAttr for XMLout (undefined = XML::Simple's default, as imgexport)] */
const generated: Record<string, [unknown, string[] | undefined]> = {
  "kit-two-components.manifest.xml": [kits, undefined],
  // The §8.2 element-per-name encoding: what XMLout writes when it does not unfold by `name`.
  "kit-by-element-name.manifest.xml": [kits, []],
  "escaping.manifest.xml": [{
    osimage: {
      ...install,
      comments: `a & b < c > d "quoted" it's\ttab line  spaced `,
      description: "two\nlines",
    },
    linuximage: installLinux,
    media: "required",
  }, undefined],
  "s390x-raw.manifest.xml": [{
    osimage: { ...install, osarch: "s390x", provmethod: "raw" },
    linuximage: installLinux,
    rawimagefiles: {
      files: [
        "/install/raw/rhels7.3/s390x/img1/0100.img",
        "/install/raw/rhels7.3/s390x/img1/0101.img",
      ],
    },
  }, undefined],
};

const writer = `
use strict; use XML::Simple; use JSON::PP;
local $/; my $job = JSON::PP->new->decode(<STDIN>);
my @opts = (RootName => 'xcatimage');
push @opts, (KeyAttr => $job->{keyattr}) if defined $job->{keyattr};
my $xml = XML::Simple->new(@opts)->XMLout($job->{data}, noattr => 1, xmldecl => '<?xml version="1.0"?>');
open(my $fh, '>', $job->{file}) or die; print $fh $xml; close $fh;
`;
const reader = `
use strict; use XML::Simple; use JSON::PP;
my $data = XML::Simple->new->XMLin($ARGV[0]);
print JSON::PP->new->canonical->pretty->encode($data);
`;

async function perl(script: string, args: string[], stdin: string): Promise<string> {
  const child = new Deno.Command("perl", {
    args: ["-e", script, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const input = child.stdin.getWriter();
  await input.write(new TextEncoder().encode(stdin));
  await input.close();
  const { code, stdout } = await child.output();
  if (code !== 0) throw new Error(`perl failed with exit code ${code}`);
  return new TextDecoder().decode(stdout);
}

for (const [name, [data, keyattr]] of Object.entries(generated)) {
  await perl(writer, [], JSON.stringify({ data, keyattr, file: dir + name }));
}
for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
  if (!entry.name.endsWith(".manifest.xml")) continue;
  const json = await perl(reader, [dir + entry.name], "");
  Deno.writeTextFileSync(dir + entry.name.replace(/\.xml$/, ".xmlin.json"), json);
  console.log(`wrote ${entry.name} (+ .xmlin.json)`);
}
