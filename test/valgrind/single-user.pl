#!/usr/bin/perl
# Turns psql scripts into input for `postgres --single -j`: a command ends at
# a semicolon followed by an empty line, so one is added after every line
# that ends a statement (outside dollar quotes). `\i FILE` is inlined (relative
# to the current directory); other psql meta-commands are dropped.
#   perl single-user.pl FILE... > input.sql
use strict;
use warnings;

my $in_dollar = '';
sub emit_file
{
	my ($file) = @_;
	open my $fh, '<', $file or die "$file: $!";
	while (my $line = <$fh>)
	{
		chomp $line;
		if ($line =~ /^\\i\s+(\S+)/) { emit_file($1); next; }
		next if $line =~ /^\\/;
		$line =~ s/\s+$//;
		# Dollar quotes: every $tag$ (not $1) opens or closes one.
		while ($line =~ /(\$[A-Za-z_]*\$)/g)
		{
			if ($in_dollar eq '') { $in_dollar = $1 }
			elsif ($in_dollar eq $1) { $in_dollar = '' }
		}
		print "$line\n";
		print "\n" if $in_dollar eq '' && $line =~ /;$/;
	}
	close $fh;
	return;
}
emit_file($_) for @ARGV;
