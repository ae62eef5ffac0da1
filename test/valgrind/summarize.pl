#!/usr/bin/perl
# Reads valgrind (memcheck) logs and prints the errors (and definite leaks)
# whose stacks go through recovery's code: recovery.so, recovery:: or
# recovery_* functions, its source files, the unit tests. PostgreSQL's own
# (it is not built with USE_VALGRIND here) are counted but not shown. Exit
# status: the number of recovery's errors (at most 255). A "Syscall param ...
# uninitialised byte(s)" error counts by where the bytes were created
# (--track-origins: the first frames of the allocation), not by who called: PostgreSQL writes padding bytes of
# WAL records and of the relcache init file, whoever commits or connects.
#   perl summarize.pl LOG...
# VALGRIND_OURS=REGEX replaces what counts as recovery's code (self-test).
use strict;
use warnings;

my $ours = $ENV{VALGRIND_OURS} ? qr{$ENV{VALGRIND_OURS}}
  : qr{lib/recovery\.so\b|\brecovery::|\brecovery_\w+ \(|\b(?:guard|spi|backend|result_set|engine|history|registry|worker|settings|shared_state|functions|worker_functions|module|run_table|worker_logic)\.[ch]pp:\d+|_test\.cpp:\d+};
my (%ours, %theirs, $blocks);
for my $log (@ARGV)
{
	open my $fh, '<', $log or die "$log: $!";
	my @block;
	my $flush = sub {
		return unless @block;
		my $head = $block[0];
		@block = () , return
		  unless $head =~ /^(Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched|Source and destination|Argument |Jump to|.*are definitely lost|.*are indirectly lost)/;
		my $text = join("\n", @block);
		$blocks++;
		# A syscall writing uninitialised bytes (WAL and relcache-file padding,
		# from any caller) is ours only if the bytes came from our code.
		# (the allocation site: the first frames of the origin's stack).
		my $judged = $text;
		if ($head =~ /^Syscall param/)
		{
			my ($origin) = $text =~ /Uninitialised value was created[^\n]*\n(.*)/s;
			my @frames = split /\n/, $origin // '';
			$judged = join("\n", @frames[ 0 .. ($#frames < 5 ? $#frames : 5) ]);
		}
		if ($judged =~ $ours) { push @{ $ours{$head =~ s/ of size \d+| in loss record.*|\d+(,\d+)* bytes in \d+(,\d+)* blocks/N/gr} }, "$log\n$text" }
		else { $theirs{ $head =~ s/\d[\d,]*/N/gr }++ }
		@block = ();
	};
	while (my $line = <$fh>)
	{
		chomp $line;
		next unless $line =~ s/^==\d+== ?//;
		if ($line eq '') { $flush->(); next; }
		push @block, $line;
	}
	$flush->();
}
my $n = 0;
for my $kind (sort keys %ours)
{
	my @all = @{ $ours{$kind} };
	$n += @all;
	print "=== recovery: " . scalar(@all) . " x $kind\n$all[0]\n\n";
}
my $other = 0;
$other += $_ for values %theirs;
print "valgrind: $n error(s) in recovery's code, $other in PostgreSQL's own (not shown)\n";
printf "  %4d x %s\n", $theirs{$_}, $_ for sort { $theirs{$b} <=> $theirs{$a} } keys %theirs;
exit($n > 255 ? 255 : $n);
