# The jobs bench/sidekiq/measure.rb has Sidekiq perform, loaded by the Sidekiq process it starts
# (`sidekiq -r bench/sidekiq/jobs.rb -c C -q bench`). Each job counts itself in this process; the
# last job of a round pushes the round's figures to Redis, where the driver waits for them:
#   NoOp(round, expected)               first and last perform of the round (monotonic clock)
#   Latency(round, expected, enqueued)  now minus the enqueue time (ns since the epoch) of each job
#
# Also sets what measure.rb measures Sidekiq with: log level WARN (Sidekiq 6.4 has no option for
# it; at INFO it writes a line at each job's start and end), and Debian's redis-rb 4.8
# deprecation warnings off (Redis.silence_deprecations; there is no environment variable): Sidekiq
# 6.4's fetch calls brpop with its timeout as a positional argument, which prints "Passing the
# timeout as a positional argument is deprecated" at every fetch, that is at every job, and its
# heartbeat and client print "Redis#sadd will always return an Integer in Redis 5.0.0".
require "json"
require "logger"
require "sidekiq"

Redis.silence_deprecations = true
Sidekiq.logger.level = Logger::WARN

module SidekiqBench
  RESULTS_KEY = "resque-bench-sidekiq:results"

  def self.monotonic_ns = Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond)
  def self.wall_ns = Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond)

  # Counts the performs of each round; every processor thread reports to the one tally.
  class Tally
    def initialize
      @mutex = Mutex.new
      @rounds = {}
    end

    # Counts one perform of `round` (with a latency sample, or nil); returns the round's record
    # when this perform was its `expected`th, else nil.
    def count(round, expected, sample_ns)
      now = SidekiqBench.monotonic_ns
      @mutex.synchronize do
        r = (@rounds[round] ||= { "done" => 0, "first_ns" => now, "samples_ns" => [] })
        r["done"] += 1
        r["samples_ns"] << sample_ns if sample_ns
        return nil if r["done"] < expected

        @rounds.delete(round).merge("round" => round, "last_ns" => now)
      end
    end
  end
  TALLY = Tally.new

  def self.count(round, expected, sample_ns = nil)
    record = TALLY.count(round, expected, sample_ns)
    return unless record

    Sidekiq.redis { |conn| conn.rpush(RESULTS_KEY, JSON.generate(record)) }
  end

  # Stops this process when the driver that started it is gone (killed before it could stop us),
  # so that no Sidekiq outlives a benchmark run.
  def self.watch_parent(parent)
    Thread.new do
      sleep 0.5 while Process.ppid == parent
      Process.kill("TERM", Process.pid)
      sleep 10
      exit!(1)
    end
  end
end

SidekiqBench.watch_parent(Integer(ENV["RESQUE_BENCH_SIDEKIQ_PARENT"])) if ENV["RESQUE_BENCH_SIDEKIQ_PARENT"]

class NoOp
  include Sidekiq::Job
  sidekiq_options retry: false

  def perform(round, expected)
    SidekiqBench.count(round, expected)
  end
end

class Latency
  include Sidekiq::Job
  sidekiq_options retry: false

  def perform(round, expected, enqueued_ns)
    SidekiqBench.count(round, expected, SidekiqBench.wall_ns - enqueued_ns)
  end
end
