#!/usr/bin/perl
# Validates META.json against the PGXN Meta Spec 1.0.0 (https://pgxn.org/spec/)
# and checks that it, recovery.control and the install scripts agree.
# Usage: check_meta.pl SOURCE_DIR   (run by ctest)
use strict;
use warnings;
use JSON::PP;
use Test::More;

my $root = shift // '.';
sub slurp { local (@ARGV, $/) = @_; return <> }

my $meta = eval { decode_json(slurp("$root/META.json")) };
ok($meta, 'META.json is valid JSON') or BAIL_OUT($@);

my $semver = qr/^\d+\.\d+\.\d+(?:-[0-9A-Za-z-]+)?$/;
# Required keys and their shapes (spec section "Structure").
for my $key (qw(name version abstract maintainer license provides meta-spec)) {
	ok(exists $meta->{$key}, "required key $key");
}
like($meta->{name}, qr/^[^\/\\\s]{2,}$/, 'name: two or more characters, no slash, backslash or space');
like($meta->{version}, $semver, 'version is a semantic version');
ok(!ref $meta->{abstract} && length $meta->{abstract}, 'abstract is a non-empty string');
my @maintainers = ref $meta->{maintainer} ? @{ $meta->{maintainer} } : ($meta->{maintainer});
ok(@maintainers && !grep({ !length } @maintainers), 'maintainer: one or more names');
my %licenses = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd freebsd
  gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0 mozilla_1_1 openssl perl_5
  postgresql qpl_1_0 ssleay sun zlib open_source restricted unrestricted unknown);
my @licenses = ref $meta->{license} eq 'ARRAY' ? @{ $meta->{license} }
  : ref $meta->{license} eq 'HASH' ? () : ($meta->{license});
ok(ref $meta->{license} eq 'HASH' || (@licenses && !grep({ !$licenses{$_} } @licenses)),
	'license is a known license string');
is($meta->{'meta-spec'}{version}, '1.0.0', 'meta-spec version 1.0.0');
ok(ref $meta->{provides} eq 'HASH' && %{ $meta->{provides} }, 'provides is a non-empty object');
for my $ext (sort keys %{ $meta->{provides} }) {
	my $p = $meta->{provides}{$ext};
	ok(defined $p->{file} && -f "$root/$p->{file}", "provides.$ext.file exists ($p->{file})");
	like($p->{version}, $semver, "provides.$ext.version is a semantic version");
	ok(!defined $p->{docfile} || -f "$root/$p->{docfile}", "provides.$ext.docfile exists");
}
# A prereq is a version, or a version range: comma-separated comparisons
# ("0" for any version), spec section "Version Ranges".
my $semver_bare = qr/\d+\.\d+\.\d+(?:-[0-9A-Za-z-]+)?/;
my $range = qr/^(?:0|(?:(?:==|!=|<=|>=|<|>)\s*)?$semver_bare)(?:\s*,\s*(?:==|!=|<=|>=|<|>)\s*$semver_bare)*$/;
if (my $prereqs = $meta->{prereqs}) {
	for my $phase (keys %$prereqs) {
		ok($phase =~ /^(configure|build|test|runtime|develop)$/, "prereqs phase $phase is known");
		for my $rel (keys %{ $prereqs->{$phase} }) {
			ok($rel =~ /^(requires|recommends|suggests|conflicts)$/, "prereqs.$phase.$rel is known");
			for my $dep (sort keys %{ $prereqs->{$phase}{$rel} }) {
				like($prereqs->{$phase}{$rel}{$dep}, $range, "prereqs.$phase.$rel.$dep is a version or a version range");
			}
		}
	}
}

# The PostgreSQL requirement claims only the majors make test tests
# (TESTED_MAJORS in scripts/lib.sh): from the oldest, below the one after
# the newest.
my ($tested) = slurp("$root/scripts/lib.sh") =~ /^TESTED_MAJORS=\(([\d ]+)\)/m;
my @majors = sort { $a <=> $b } split ' ', ($tested // '');
ok(@majors, 'scripts/lib.sh names the tested majors (TESTED_MAJORS)');
if (@majors) {
	is($meta->{prereqs}{runtime}{requires}{PostgreSQL},
		">= $majors[0].0.0, < " . ($majors[-1] + 1) . '.0.0',
		"prereqs.runtime.requires.PostgreSQL spans the tested majors (@majors)");
}
ok(!$meta->{tags} || ref $meta->{tags} eq 'ARRAY', 'tags is a list');

# The extension's own files agree with META.json.
my $control = slurp("$root/recovery.control");
my ($default) = $control =~ /^default_version\s*=\s*'([^']+)'/m;
is($default, $meta->{version}, 'recovery.control default_version matches META.json');
is($meta->{provides}{recovery}{version}, $meta->{version}, 'provides.recovery.version matches');
ok(-f "$root/extension/recovery--$default.sql", "install script extension/recovery--$default.sql exists");
like($control, qr/^schema\s*=\s*recovery$/m, 'control: schema = recovery');
like($control, qr/^relocatable\s*=\s*false$/m, 'control: not relocatable');
# Upgrade scripts follow recovery--FROM--TO.sql between known versions.
for my $script (glob("$root/extension/recovery--*--*.sql")) {
	like($script, qr/recovery--\d+\.\d+\.\d+--\d+\.\d+\.\d+\.sql$/, "upgrade script name $script");
}
done_testing();
