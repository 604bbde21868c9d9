# Measures Sidekiq (Debian's ruby-sidekiq 6.4.1) on the Redis that bench/run.sh started, the way
# bench_worker measures resque-cpp and measure.js node-resque: no-op jobs/s draining a prefilled
# queue, and enqueue-to-perform latency of jobs enqueued at a steady 1000 jobs/s.
#
#   ruby bench/sidekiq/measure.rb --redis redis://127.0.0.1:PORT [--scale 1] [--out sidekiq.json]
#       [--rounds 3] [--concurrency 1,2,4,5,8,10,16,25] [--db 12]
#
# For each concurrency it starts `sidekiq -r bench/sidekiq/jobs.rb -c C -q bench` (log level
# WARN and redis-rb's deprecation warnings off, both set in jobs.rb), then:
#   - throughput, --rounds times (the median is kept): N NoOp jobs are pushed with push_bulk to a
#     staging list, which one RENAME makes the "bench" queue; the jobs time the drain themselves,
#     from the first perform to the last (jobs.rb), so that Sidekiq's boot is not counted;
#   - latency: Latency jobs pushed one at a time at 1000/s, each carrying its enqueue time.
# The Redis URL is the server's (RESQUE_BENCH_REDIS if --redis is not given; loopback only); the
# database is --db, which must hold nothing but an earlier run's leftovers: Sidekiq's keys cannot
# be prefixed without redis-namespace, which would slow every command. Every key in it is
# deleted at the end, and every Sidekiq it started is stopped, whatever the exit.
require "json"
require "optparse"
require "uri"
require "fileutils"
require "tmpdir"
require_relative "jobs"

module SidekiqBench
  CONCURRENCIES = [1, 2, 4, 5, 8, 10, 16, 25].freeze
  QUEUE = "bench"
  STAGING = "bench-staging"
  DEFAULT_DB = 12
  OWNER_KEY = "resque-bench-sidekiq:owner"
  LATENCY_RATE = 1000 # jobs/s, as bench_worker
  THROUGHPUT_JOBS = 20_000 # as bench_worker's Redis points
  BOOT_SECONDS = 30 # how long a Sidekiq may take to start performing
  STOP_SECONDS = 30 # how long it may take to stop on TERM before it is killed
  JOBS_FILE = File.expand_path("jobs.rb", __dir__)

  def self.progress(what) = warn("   sidekiq: #{what}")

  def self.parse_args(argv)
    args = { redis: ENV["RESQUE_BENCH_REDIS"], scale: 1.0, out: nil, rounds: 3,
             concurrencies: CONCURRENCIES, db: DEFAULT_DB }
    OptionParser.new do |o|
      o.on("--redis URL") { |v| args[:redis] = v }
      o.on("--scale F", Float) { |v| args[:scale] = v }
      o.on("--out FILE") { |v| args[:out] = v }
      o.on("--rounds N", Integer) { |v| args[:rounds] = v }
      o.on("--concurrency LIST", Array) { |v| args[:concurrencies] = v.map { |c| Integer(c) } }
      o.on("--db N", Integer) { |v| args[:db] = v }
    end.parse!(argv)
    raise ArgumentError, "give --redis redis://127.0.0.1:PORT or set RESQUE_BENCH_REDIS" unless args[:redis]
    raise ArgumentError, "--scale must be > 0" unless args[:scale].positive?
    raise ArgumentError, "--rounds must be 1 to 9" unless (1..9).cover?(args[:rounds])

    uri = URI.parse(args[:redis].include?("://") ? args[:redis] : "redis://#{args[:redis]}")
    unless uri.scheme == "redis" && uri.host == "127.0.0.1" && uri.port
      raise ArgumentError, "only redis://127.0.0.1:PORT is measured, not \"#{args[:redis]}\""
    end
    args[:url] = "redis://127.0.0.1:#{uri.port}/#{args[:db]}"
    args
  end

  # One `sidekiq` child process, in a process group of its own (so that a Ctrl-C reaches the
  # driver, which then stops it).
  class SidekiqProcess
    attr_reader :log

    def initialize(url, concurrency, log)
      @log = log
      env = { "REDIS_URL" => url, "RESQUE_BENCH_SIDEKIQ_PARENT" => Process.pid.to_s }
      @pid = Process.spawn(env, "sidekiq", "-r", JOBS_FILE, "-c", concurrency.to_s, "-q", QUEUE,
                           %i[out err] => [log, "w"], :pgroup => true, :in => File::NULL)
      @status = nil
    end

    # False once the process has exited (its status is then kept).
    def alive?
      return false if @status

      if Process.wait(@pid, Process::WNOHANG)
        @status = $?
        return false
      end
      true
    end

    def exit_description = @status ? @status.inspect : "still running"

    # TERM, then KILL if it has not exited within STOP_SECONDS; waits for it either way.
    def stop
      return unless alive?

      Process.kill("TERM", @pid)
      deadline = SidekiqBench.monotonic_ns + STOP_SECONDS * 1e9
      sleep 0.02 while alive? && SidekiqBench.monotonic_ns < deadline
      return unless alive?

      warn "sidekiq (pid #{@pid}) did not stop within #{STOP_SECONDS} s of TERM: killing it"
      Process.kill("KILL", @pid)
      Process.wait(@pid)
      @status = $?
    rescue Errno::ESRCH, Errno::ECHILD
      @status ||= :gone
    end

    def log_tail = File.exist?(@log) ? File.readlines(@log).last(20).join : ""
  end

  class Driver
    def initialize(args)
      @args = args
      @redis = Redis.new(url: args[:url])
      Sidekiq.configure_client { |config| config.redis = { url: args[:url], size: 1 } }
      @client = Sidekiq::Client.new
      @logs = Dir.mktmpdir("resque-bench-sidekiq")
      @claimed = false
    end

    def run
      claim_db
      scale = @args[:scale]
      jobs = [50, (THROUGHPUT_JOBS * scale).round].max
      latency_jobs = [10, (LATENCY_RATE * scale).round].max
      # Once performing, a point may take as long as bench_worker's (scaled, at least 5 s).
      deadline = [5.0, 60.0 * scale].max
      result = {
        "sidekiq" => Sidekiq::VERSION, "ruby" => RUBY_VERSION, "redis_rb" => Redis::VERSION,
        "command" => "sidekiq -r bench/sidekiq/jobs.rb -c C -q #{QUEUE}", "log_level" => "WARN",
        "redis_db" => @args[:db], "jobs_per_round" => jobs, "rounds" => @args[:rounds],
        "latency_jobs" => latency_jobs, "offered_per_second" => LATENCY_RATE, "worker" => []
      }
      @args[:concurrencies].each do |c|
        SidekiqBench.progress("-c #{c}: #{@args[:rounds]} drains of #{jobs} jobs, then latency")
        result["worker"] << measure(c, jobs, latency_jobs, deadline)
      end
      result["best_jobs_per_second"] = result["worker"].map { |w| w["jobs_per_second"] }.max
      result
    ensure
      release_db
      FileUtils.remove_entry(@logs) if @logs
    end

    private

    # The database must be empty, or hold only what an interrupted run of ours left.
    def claim_db
      size = @redis.dbsize
      if size.positive? && !@redis.exists?(OWNER_KEY)
        raise "db #{@args[:db]} of #{@args[:url]} holds #{size} keys not written by this script: " \
              "give another --db"
      end
      @redis.flushdb if size.positive?
      @redis.set(OWNER_KEY, Process.pid)
      @claimed = true
    end

    def release_db
      @redis.flushdb if @claimed
    rescue Redis::BaseError => e
      warn "sidekiq: could not delete the keys of db #{@args[:db]}: #{e}"
    end

    def measure(concurrency, jobs, latency_jobs, deadline)
      sidekiq = SidekiqProcess.new(@args[:url], concurrency, File.join(@logs, "sidekiq-c#{concurrency}.log"))
      begin
        rates = Array.new(@args[:rounds]) do |i|
          # The first round also waits for Sidekiq to boot.
          drain(sidekiq, "drain-c#{concurrency}-#{i}", jobs, deadline + (i.zero? ? BOOT_SECONDS : 0))
        end
        latency = latency(sidekiq, "latency-c#{concurrency}", latency_jobs, deadline)
      ensure
        sidekiq.stop
        report_log(sidekiq)
      end
      { "concurrency" => concurrency, "jobs_per_second" => median(rates),
        "round_jobs_per_second" => rates, "latency" => latency }
    end

    # What Sidekiq printed (nothing, at WARN, when all is well).
    def report_log(sidekiq)
      text = sidekiq.log_tail
      warn text.gsub(/^/, "   sidekiq log: ") unless text.empty?
    end

    def drain(sidekiq, round, jobs, timeout)
      staging = "queue:#{STAGING}"
      @redis.del(staging)
      (0...jobs).step(1000) do |i|
        args = Array.new([1000, jobs - i].min) { [round, jobs] }
        @client.push_bulk("class" => "NoOp", "queue" => STAGING, "args" => args)
      end
      @redis.rename(staging, "queue:#{QUEUE}")
      record = await(sidekiq, round, timeout)
      jobs / ((record["last_ns"] - record["first_ns"]) / 1e9)
    end

    def latency(sidekiq, round, jobs, timeout)
      period_ns = 1e9 / LATENCY_RATE
      start = SidekiqBench.monotonic_ns
      jobs.times do |i|
        ahead_ns = start + i * period_ns - SidekiqBench.monotonic_ns
        sleep(ahead_ns / 1e9) if ahead_ns.positive?
        @client.push("class" => "Latency", "queue" => QUEUE, "args" => [round, jobs, SidekiqBench.wall_ns])
      end
      sorted = await(sidekiq, round, timeout)["samples_ns"].sort
      at = ->(q) { sorted[[sorted.size - 1, (q * sorted.size).floor].min] / 1e3 }
      { "p50_us" => at.call(0.5), "p99_us" => at.call(0.99), "p999_us" => at.call(0.999),
        "max_us" => sorted.last / 1e3, "samples" => sorted.size }
    end

    # The record the last job of `round` pushed; raises when Sidekiq exits or `timeout` s pass.
    def await(sidekiq, round, timeout)
      deadline = SidekiqBench.monotonic_ns + timeout * 1e9
      loop do
        unless sidekiq.alive?
          raise "sidekiq exited (#{sidekiq.exit_description}) during #{round}; its log:\n#{sidekiq.log_tail}"
        end
        left = (deadline - SidekiqBench.monotonic_ns) / 1e9
        raise "#{round}: the jobs were not all performed within #{timeout.round(1)} s" unless left.positive?

        _, json = @redis.blpop(RESULTS_KEY, timeout: [left, 0.5].min)
        next unless json

        record = JSON.parse(json)
        return record if record["round"] == round
      end
    end

    def median(values)
      sorted = values.sort
      mid = sorted.size / 2
      sorted.size.odd? ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0
    end
  end

  def self.main(argv)
    args = parse_args(argv)
    result = Driver.new(args).run
    text = JSON.pretty_generate(result)
    if args[:out]
      File.write(args[:out], "#{text}\n")
    else
      puts text
    end
  end
end

begin
  SidekiqBench.main(ARGV)
rescue StandardError, Interrupt, SignalException => e
  warn "sidekiq measurement failed: #{e.class}: #{e.message}"
  exit 1
end
