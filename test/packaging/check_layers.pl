#!/usr/bin/perl
# The rooms of src/ and which may include which (README, Development): a
# lower room never includes a higher one, so there are no cycles. Each
# room's code lives in the namespace of its folder (recovery::engine,
# recovery::engine::claims, ...).
#   core      pure C++: nothing but core (no PostgreSQL header at all)
#   pg        the pg to PostgreSQL: core and PostgreSQL
#   registry, settings   pg, core
#   engine    registry, settings, pg, core
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
	pg   => [qw(pg core)],
	registry => [qw(registry pg core)],
	settings => [qw(settings pg core)],
	engine   => [qw(engine registry settings pg core)],
	worker   => [qw(worker engine registry settings pg core)],
	api      => [qw(api worker engine registry settings pg core)],
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
	is(join(', ', foreign_namespaces($file, $room)), '', "$rel declares only namespaces of $room");
}
done_testing();

# Named namespaces the file opens that are not recovery::<room> or inside
# it. A plain name (namespace detail) is nested in the one opened before it.
sub foreign_namespaces {
	my ($file, $room) = @_;
	open(my $fh, '<', $file) or die "$file: $!";
	my @foreign;
	my $inside = 0;
	while (my $line = <$fh>) {
		next unless $line =~ /^namespace\s+([A-Za-z_:]+)\s*\{/;
		my $ns = $1;
		if ($ns =~ /^recovery::\Q$room\E(?:::|$)/) { $inside = 1; next; }
		push @foreign, $ns unless $inside && $ns !~ /::|^recovery$/;
	}
	close $fh;
	return @foreign;
}
