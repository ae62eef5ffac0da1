#!/usr/bin/perl
# Turns psql scripts into input for `postgres --single -j`, where a command
# ends at a semicolon followed by an empty line: one is added after every
# line that ends a statement (outside dollar quotes). `\i FILE` is inlined
# (relative to the current directory). `SELECT ... AS name \gset` becomes a
# temporary table gset_name, and later :name / :'name' read it (a \gset
# without aliases just runs). Other psql meta-commands are dropped.
#   perl single-user.pl FILE... > input.sql
use strict;
use warnings;

my $in_dollar = '';
my @statement;
my %vars;

sub substitute
{
	my ($line) = @_;
	for my $v (keys %vars)
	{
		my $t = $vars{$v};
		$line =~ s/:'$v'/(SELECT ${v}::text FROM pg_temp.$t)/g;
		$line =~ s/(?<!:):$v\b/(SELECT $v FROM pg_temp.$t)/g;
	}
	return $line;
}

sub emit_file
{
	my ($file) = @_;
	open my $fh, '<', $file or die "$file: $!";
	while (my $line = <$fh>)
	{
		chomp $line;
		$line =~ s/\s+$//;
		if ($in_dollar eq '' && $line =~ /^\\i\s+(\S+)/) { emit_file($1); next; }
		next if $in_dollar eq '' && $line =~ /^\\/;
		if ($in_dollar eq '' && $line =~ s/\s*\\gset\s*$//)
		{
			push @statement, substitute($line);
			my $sql = join("\n", @statement);
			my @names = $sql =~ /\bAS\s+(\w+)/gi;
			if (!@names)    # run for its effect only
			{
				print "$sql;\n\n";
				@statement = ();
				next;
			}
			my $t = "gset_$names[0]";
			$vars{$_} = $t for @names;
			print "DROP TABLE IF EXISTS pg_temp.$t;\n\nCREATE TEMP TABLE $t AS\n$sql;\n\n";
			@statement = ();
			next;
		}
		# Dollar quotes: every $tag$ (not $1) opens or closes one.
		while ($line =~ /(\$[A-Za-z_]*\$)/g)
		{
			if ($in_dollar eq '') { $in_dollar = $1 }
			elsif ($in_dollar eq $1) { $in_dollar = '' }
		}
		push @statement, substitute($line);
		if ($in_dollar eq '' && $line =~ /;$/)
		{
			print join("\n", @statement), "\n\n";
			@statement = ();
		}
	}
	close $fh;
	return;
}
emit_file($_) for @ARGV;
print join("\n", @statement), "\n" if @statement;
