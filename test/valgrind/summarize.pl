#!/usr/bin/perl
# Reads valgrind (memcheck) logs and prints the errors whose stacks go
# through recovery's code (recovery.so, or the unit tests' sources), grouped
# by kind; PostgreSQL's own (it is not built with USE_VALGRIND here) are
# counted but not shown. Exit status: the number of recovery errors (max 255).
#   perl summarize.pl LOG...
use strict;
use warnings;

my $ours = qr{recovery\.so|/src/(?:api|bridge|core|engine|registry|worker)/|/test/unit/};
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
		if ($text =~ $ours) { push @{ $ours{$head =~ s/ of size \d+| in loss record.*|\d+(,\d+)* bytes in \d+(,\d+)* blocks/N/gr} }, "$log\n$text" }
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
