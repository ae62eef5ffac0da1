#!/usr/bin/perl
# The rooms of src/ and which may include which (README, Development): a
# lower room never includes a higher one, so there are no cycles.
#   core      pure C++: nothing but core (no PostgreSQL header at all)
#   bridge    core and PostgreSQL
#   registry, settings   bridge, core
#   engine    registry, settings, bridge, core
#   worker    everything but api
#   api       everything
# Usage: check_layers.pl SOURCE_DIR   (run by ctest)
use strict;
use warnings;
use File::Find;
use Test::More;

my $root = shift // '.';
my %may = (
	core     => [qw(core)],
	bridge   => [qw(bridge core)],
	registry => [qw(registry bridge core)],
	settings => [qw(settings bridge core)],
	engine   => [qw(engine registry settings bridge core)],
	worker   => [qw(worker engine registry settings bridge core)],
	api      => [qw(api worker engine registry settings bridge core)],
);
my %ours = map { $_ => 1 } keys %may;

my @files;
find(sub { push @files, $File::Find::name if /\.(?:cpp|hpp)$/ }, "$root/src");
ok(@files > 10, 'found the sources');
for my $file (sort @files) {
	my ($room) = $file =~ m{/src/([a-z_]+)/};
	next unless defined $room;    # src/module.cpp: the top, may include anything
	ok($may{$room}, "$room is a known room") or next;
	open(my $fh, '<', $file) or die "$file: $!";
	my @bad;
	while (my $line = <$fh>) {
		next unless $line =~ /^\s*#\s*include\s+"([^"]+)"/;
		my $target = $1;
		my ($to) = $target =~ m{^([a-z_]+)/};
		if ($room eq 'core') {
			# core is pure: only its own headers, nothing of PostgreSQL's.
			push @bad, $target unless defined $to && $to eq 'core';
			next;
		}
		next unless defined $to && $ours{$to};
		push @bad, $target unless grep { $_ eq $to } @{ $may{$room} };
	}
	close $fh;
	my $rel = $file =~ s{^\Q$root\E/}{}r;
	is(join(', ', @bad), '', "$rel includes only rooms below it");
}
done_testing();
